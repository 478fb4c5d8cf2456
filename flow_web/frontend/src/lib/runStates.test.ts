import { describe, expect, it } from "vitest";
import { canRetry, elapsedMs, formatDuration, isRunActive, stateStyle, taskDurationMs } from "./runStates";

const TASK_STATES = ["pending", "ready", "running", "retrying", "succeeded", "failed", "skipped", "upstream_failed", "canceled"];

describe("stateStyle", () => {
  it("gives every task state its own fill, green for success and red for failure", () => {
    const fills = TASK_STATES.map((state) => stateStyle(state).fill);
    expect(new Set(fills).size).toBe(TASK_STATES.length);
    expect(stateStyle("succeeded").fill).toBe("#17845b");
    expect(stateStyle("failed").fill).toBe("#c53030");
  });

  it("marks moving states active and settled ones not", () => {
    expect(TASK_STATES.filter((state) => stateStyle(state).active)).toEqual(["ready", "running", "retrying"]);
  });

  it("labels states for people and keeps an unknown state's name", () => {
    expect(stateStyle("upstream_failed").label).toBe("upstream failed");
    expect(stateStyle("paused")).toMatchObject({ label: "paused", active: false });
    expect(stateStyle(null).label).toBe("unknown");
  });
});

describe("run states", () => {
  it("knows which runs are active and which can be retried", () => {
    expect(["queued", "running", "succeeded"].map(isRunActive)).toEqual([true, true, false]);
    expect(["failed", "canceled", "succeeded", "running"].map(canRetry)).toEqual([true, true, false, false]);
  });
});

describe("durations", () => {
  it("formats from milliseconds to hours", () => {
    expect([0, 340, 4210, 42_400, 185_000, 7_620_000].map(formatDuration)).toEqual([
      "0 ms",
      "340 ms",
      "4.2 s",
      "42 s",
      "3 min 05 s",
      "2 h 07 min",
    ]);
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(-5)).toBe("—");
  });

  it("measures elapsed time to the end or to now", () => {
    const now = Date.parse("2030-01-01T00:01:00Z");
    expect(elapsedMs("2030-01-01T00:00:00Z", "2030-01-01T00:00:02.5Z", now)).toBe(2500);
    expect(elapsedMs("2030-01-01T00:00:30+00:00", null, now)).toBe(30_000);
    expect(elapsedMs(null, null, now)).toBeNull();
    expect(elapsedMs("garbage", null, now)).toBeNull();
  });

  it("prefers the executor's measured duration, counts up while a task runs", () => {
    const now = Date.parse("2030-01-01T00:00:10Z");
    const base = { started_at: "2030-01-01T00:00:00Z", finished_at: null };
    expect(taskDurationMs({ ...base, duration_ms: 1234, state: "succeeded" }, now)).toBe(1234);
    expect(taskDurationMs({ ...base, duration_ms: null, state: "running" }, now)).toBe(10_000);
    expect(taskDurationMs({ ...base, started_at: null, duration_ms: null, state: "pending" }, now)).toBeNull();
    expect(
      taskDurationMs({ started_at: "2030-01-01T00:00:00Z", finished_at: "2030-01-01T00:00:03Z", duration_ms: null, state: "canceled" }, now),
    ).toBe(3000);
  });
});
