import { describe, expect, it } from "vitest";
import { type GanttTask, ganttLayout, tickLabel, tickStep } from "./gantt";

const t0 = Date.parse("2030-01-01T00:00:00Z");
const iso = (ms: number) => new Date(t0 + ms).toISOString();

function task(node_id: string, state: string, startMs: number | null, endMs: number | null, extra: Partial<GanttTask> = {}): GanttTask {
  return {
    node_id,
    state,
    started_at: startMs === null ? null : iso(startMs),
    finished_at: endMs === null ? null : iso(endMs),
    duration_ms: startMs !== null && endMs !== null ? endMs - startMs : null,
    ...extra,
  };
}

describe("ganttLayout", () => {
  it("places bars in proportion to time, from the earliest start", () => {
    const layout = ganttLayout(
      [task("extract", "succeeded", 0, 2000), task("clean", "succeeded", 2000, 3000), task("load", "succeeded", 3000, 10_000)],
      { width: 1000, now: t0 + 20_000 },
    );
    expect(layout.origin).toBe(t0);
    expect(layout.spanMs).toBe(10_000);
    expect(layout.rows.map((r) => [r.node_id, r.bar?.x, r.bar?.width])).toEqual([
      ["extract", 0, 200],
      ["clean", 200, 100],
      ["load", 300, 700],
    ]);
    expect(layout.rows[2].bar?.label).toBe("7.0 s");
  });

  it("grows a running task's bar to now, and keeps tasks that never started as empty rows at the end", () => {
    const layout = ganttLayout(
      [task("waiting", "pending", null, null), task("slow", "running", 1000, null), task("first", "succeeded", 0, 1000)],
      { width: 500, now: t0 + 5000, order: ["first", "slow", "waiting"] },
    );
    expect(layout.rows.map((r) => r.node_id)).toEqual(["first", "slow", "waiting"]);
    expect(layout.rows[1].bar).toMatchObject({ x: 100, width: 400, running: true, durationMs: 4000 });
    expect(layout.rows[2].bar).toBeNull();
  });

  it("keeps tiny tasks visible and inside the chart", () => {
    const layout = ganttLayout([task("a", "succeeded", 0, 60_000), task("b", "succeeded", 60_000, 60_001)], {
      width: 600,
      now: t0,
      minBarWidth: 3,
    });
    const bar = layout.rows[1].bar!;
    expect(bar.width).toBe(3);
    expect(bar.x + bar.width).toBeLessThanOrEqual(600);
  });

  it("draws the wait between ready and started", () => {
    const layout = ganttLayout([task("a", "succeeded", 1000, 2000, { ready_at: iso(0) })], { width: 200, now: t0 });
    expect(layout.rows[0].bar).toMatchObject({ waitX: 0, waitWidth: 100, x: 100, width: 100 });
  });

  it("starts at the run's start when that is earlier, and uses a 1 s span at least", () => {
    const layout = ganttLayout([task("a", "succeeded", 200, 300)], { width: 100, now: t0, runStartedAt: iso(0) });
    expect(layout.origin).toBe(t0);
    expect(layout.spanMs).toBe(1000);
    expect(layout.rows[0].bar).toMatchObject({ x: 20, width: 10 });
  });

  it("has no origin and no bars before anything started", () => {
    const layout = ganttLayout([task("a", "pending", null, null)], { width: 300, now: t0 });
    expect(layout.origin).toBeNull();
    expect(layout.rows[0].bar).toBeNull();
    expect(layout.ticks[0]).toEqual({ x: 0, label: "0" });
  });

  it("puts ticks at round steps across the span", () => {
    const layout = ganttLayout([task("a", "succeeded", 0, 10_000)], { width: 800, now: t0, tickSpacing: 100 });
    expect(layout.ticks.map((tick) => tick.label)).toEqual(["0", "2 s", "4 s", "6 s", "8 s", "10 s"]);
    expect(layout.ticks.map((tick) => tick.x)).toEqual([0, 160, 320, 480, 640, 800]);
  });
});

describe("ticks", () => {
  it("picks the smallest round step that fits", () => {
    expect(tickStep(10_000, 8)).toBe(2000);
    expect(tickStep(10_000, 10)).toBe(1000);
    expect(tickStep(600, 5)).toBe(200);
    expect(tickStep(3_600_000, 6)).toBe(600_000);
    expect(tickStep(3_600_000, 5)).toBe(900_000);
  });

  it("labels offsets in the largest sensible unit", () => {
    expect([0, 500, 2000, 60_000, 90_000, 7_200_000, 5_400_000].map(tickLabel)).toEqual([
      "0",
      "500 ms",
      "2 s",
      "1 min",
      "1 min 30 s",
      "2 h",
      "1 h 30 min",
    ]);
  });
});
