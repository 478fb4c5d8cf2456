import { describe, expect, it } from "vitest";
import { describeCron, normalizeCron } from "./cron";

describe("describeCron", () => {
  it("describes five-field expressions", () => {
    const described = describeCron("0 6 * * *");
    expect(described).toEqual({ ok: true, text: "At 06:00" });
    const weekdays = describeCron("*/15 9-17 * * 1-5");
    expect(weekdays.ok && weekdays.text).toContain("Every 15 minutes");
    expect(weekdays.ok && weekdays.text).toContain("Monday through Friday");
  });

  it("reads six fields with seconds first, as ecron does", () => {
    const described = describeCron("30 0 6 * * *");
    expect(described).toEqual({ ok: true, text: "At 06:00:30" });
  });

  it("expands the @aliases", () => {
    expect(normalizeCron(" @daily ")).toBe("0 0 * * *");
    expect(describeCron("@hourly")).toEqual({ ok: true, text: "Every hour" });
  });

  it("explains what is wrong with a bad expression", () => {
    const wrongCount = describeCron("0 6 * *");
    expect(wrongCount.ok).toBe(false);
    expect(!wrongCount.ok && wrongCount.error).toContain("has 4");
    expect(describeCron("").ok).toBe(false);
    expect(describeCron("99 * * * *").ok).toBe(false);
  });
});
