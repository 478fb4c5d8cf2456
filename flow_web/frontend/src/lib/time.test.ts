import { describe, expect, it } from "vitest";
import { earliest, relativeTime } from "./time";

const now = Date.parse("2030-01-01T12:00:00Z");

describe("relativeTime", () => {
  it("says how long ago or how soon", () => {
    expect(relativeTime("2030-01-01T11:55:00Z", now)).toBe("5 min ago");
    expect(relativeTime("2030-01-01T15:00:00Z", now)).toBe("in 3 h");
    expect(relativeTime("2029-12-30T12:00:00Z", now)).toBe("2 d ago");
    expect(relativeTime("2030-01-01T12:00:03Z", now)).toBe("just now");
    expect(relativeTime("2030-01-01T12:00:45Z", now)).toBe("in 45 s");
  });

  it("shows a dash for nothing or garbage", () => {
    expect(relativeTime(null, now)).toBe("—");
    expect(relativeTime("not a date", now)).toBe("—");
  });

  it("picks the earliest instant across offsets", () => {
    expect(earliest(["2030-01-01T10:00:00+02:00", "2030-01-01T09:00:00Z"])).toBe("2030-01-01T10:00:00+02:00");
    expect(earliest([])).toBeNull();
  });
});
