import { describe, expect, it } from "vitest";
import type { RunDetail, TaskRun } from "../api/runs";
import { applyRunEvent, isFinalEvent, mergeSnapshot, parseRunMessage, retryTargets, type RunEvent, taskOrder } from "./runLive";

function task(node_id: string, extra: Partial<TaskRun> = {}): TaskRun {
  return {
    node_id,
    type: "python",
    state: "pending",
    attempts: 0,
    started_at: null,
    finished_at: null,
    duration_ms: null,
    error: null,
    cached: false,
    ready_at: null,
    outputs: {},
    upstream: [],
    history: [],
    ...extra,
  };
}

function run(tasks: TaskRun[], extra: Partial<RunDetail> = {}): RunDetail {
  return {
    id: "r1",
    run_id: "r1",
    flow_id: "f",
    version: 1,
    state: "queued",
    params: {},
    trigger: { type: "manual" },
    created_by: null,
    created_at: "2030-01-01T00:00:00Z",
    started_at: null,
    finished_at: null,
    attempt: 1,
    parent: null,
    scheduled_time: null,
    cancel_requested: false,
    task_counts: null,
    tasks,
    ...extra,
  };
}

const at = (second: number) => `2030-01-01T00:00:${String(second).padStart(2, "0")}.000000+00:00`;
const taskEvent = (node_id: string, state: string, second: number, extra: Partial<RunEvent> = {}): RunEvent => ({
  kind: "task",
  run_id: "r1",
  node_id,
  state,
  attempt: 1,
  at: at(second),
  ...extra,
});
const runEvent = (state: string, second: number, extra: Partial<RunEvent> = {}): RunEvent => ({ kind: "run", run_id: "r1", state, attempt: 1, at: at(second), ...extra });

function applyAll(start: RunDetail, events: RunEvent[]): { run: RunDetail; applied: number } {
  let current = start;
  let applied = 0;
  for (const event of events) {
    const next = applyRunEvent(current, event);
    if (next) {
      current = next;
      applied++;
    }
  }
  return { run: current, applied };
}

describe("applyRunEvent", () => {
  it("follows a run from queued to succeeded, with attempts, times and durations", () => {
    const { run: done } = applyAll(run([task("a"), task("b", { upstream: ["a"] })]), [
      runEvent("running", 1),
      taskEvent("a", "ready", 1, { attempt: 0 }),
      taskEvent("a", "running", 2),
      taskEvent("a", "succeeded", 4, { duration_ms: 1900 }),
      taskEvent("b", "ready", 4, { attempt: 0 }),
      taskEvent("b", "running", 5),
      taskEvent("b", "retrying", 6, { error: "503 from the API" }),
      taskEvent("b", "running", 7, { attempt: 2 }),
      taskEvent("b", "succeeded", 8, { attempt: 2, duration_ms: 800 }),
      runEvent("succeeded", 8, { task_counts: { succeeded: 2 } }),
    ]);
    expect(done.state).toBe("succeeded");
    expect(done.started_at).toBe(at(1));
    expect(done.finished_at).toBe(at(8));
    expect(done.task_counts).toEqual({ succeeded: 2 });
    const [a, b] = done.tasks;
    expect(a).toMatchObject({ state: "succeeded", attempts: 1, started_at: at(2), finished_at: at(4), duration_ms: 1900 });
    expect(b).toMatchObject({ state: "succeeded", attempts: 2, started_at: at(7), duration_ms: 800, error: null });
    expect(b.history.map((h) => h.state)).toEqual(["ready", "running", "retrying", "running", "succeeded"]);
  });

  it("keeps a failure's message and the retrying error", () => {
    const retrying = applyRunEvent(run([task("a", { state: "running", started_at: at(1) })]), taskEvent("a", "retrying", 2, { error: "boom" }))!;
    expect(retrying.tasks[0]).toMatchObject({ state: "retrying", error: { message: "boom" } });
    const failed = applyRunEvent(retrying, taskEvent("a", "failed", 3, { error: "boom again", duration_ms: 5 }))!;
    expect(failed.tasks[0]).toMatchObject({ state: "failed", error: { message: "boom again" }, finished_at: at(3) });
  });

  it("skips events older than the snapshot it starts from, so a replay does not flicker", () => {
    const snapshot = run(
      [
        task("a", { state: "succeeded", started_at: at(2), finished_at: at(4), history: [{ state: "running", at: at(2) }, { state: "succeeded", at: at(4) }] }),
        task("b", { state: "running", started_at: at(5), history: [{ state: "running", at: at(5) }] }),
      ],
      { state: "running", started_at: at(1) },
    );
    const replay = [
      runEvent("queued", 0),
      runEvent("running", 1),
      taskEvent("a", "running", 2),
      taskEvent("a", "succeeded", 4),
      taskEvent("b", "ready", 4, { attempt: 0 }),
      taskEvent("b", "running", 5),
    ];
    const { run: after, applied } = applyAll(snapshot, replay);
    expect(after.tasks.map((t) => t.state)).toEqual(["succeeded", "running"]);
    expect(after.state).toBe("running");
    // same-instant events restate what the view shows; nothing went back
    expect(applied).toBeLessThanOrEqual(4);
    const live = applyRunEvent(after, taskEvent("b", "succeeded", 9, { duration_ms: 4000 }))!;
    expect(live.tasks[1]).toMatchObject({ state: "succeeded", duration_ms: 4000 });
  });

  it("ignores events of other runs, unknown nodes and earlier attempts", () => {
    const current = run([task("a")], { attempt: 2, state: "running" });
    expect(applyRunEvent(current, { ...taskEvent("a", "running", 1), run_id: "other" })).toBeNull();
    expect(applyRunEvent(current, taskEvent("ghost", "running", 1))).toBeNull();
    expect(applyRunEvent(current, runEvent("failed", 50))).toBeNull();
  });

  it("resets the retried tasks when a retry starts a new attempt", () => {
    const failed = run(
      [
        task("a", { state: "succeeded", attempts: 1, finished_at: at(2), outputs: { result: { kind: "json", value: 1 } } }),
        task("b", { state: "failed", attempts: 1, finished_at: at(3), error: { message: "x" } }),
        task("c", { state: "upstream_failed", finished_at: at(3) }),
      ],
      { state: "failed", finished_at: at(3) },
    );
    const retried = applyRunEvent(failed, runEvent("queued", 10, { attempt: 2, retry: true, tasks: ["b", "c"] }))!;
    expect(retried).toMatchObject({ state: "queued", attempt: 2, finished_at: null });
    expect(retried.tasks.map((t) => t.state)).toEqual(["succeeded", "pending", "pending"]);
    expect(retried.tasks[0].outputs).toEqual({ result: { kind: "json", value: 1 } });
    expect(retried.tasks[1].error).toBeNull();
    // the first attempt's final event, replayed later, no longer applies
    expect(applyRunEvent(retried, runEvent("failed", 3))).toBeNull();
  });
});

describe("isFinalEvent", () => {
  it("is the terminal run event of the latest attempt", () => {
    expect(isFinalEvent(runEvent("succeeded", 1), 1)).toBe(true);
    expect(isFinalEvent(runEvent("failed", 1), 2)).toBe(false);
    expect(isFinalEvent(runEvent("running", 1), 1)).toBe(false);
    expect(isFinalEvent(taskEvent("a", "failed", 1), 1)).toBe(false);
  });
});

describe("parseRunMessage", () => {
  it("decodes events and snapshots and drops anything else", () => {
    expect(parseRunMessage({ event: "task", id: "1", data: JSON.stringify(taskEvent("a", "running", 1)) })).toMatchObject({
      type: "event",
      event: { node_id: "a" },
    });
    expect(parseRunMessage({ event: "snapshot", id: null, data: JSON.stringify(run([task("a")])) })).toMatchObject({ type: "snapshot" });
    expect(parseRunMessage({ event: "task", id: "2", data: "not json" })).toBeNull();
    expect(parseRunMessage({ event: "message", id: "3", data: '{"hello":1}' })).toBeNull();
  });
});

describe("mergeSnapshot", () => {
  it("takes outputs and full errors from the snapshot, keeps states the stream has moved past", () => {
    const live = run(
      [
        task("a", { state: "succeeded", finished_at: at(4), history: [{ state: "succeeded", at: at(4) }] }),
        task("b", { state: "failed", finished_at: at(6), error: { message: "bad" }, history: [{ state: "failed", at: at(6) }] }),
        task("c", { state: "running", started_at: at(7), history: [{ state: "running", at: at(7) }] }),
      ],
      { state: "running", started_at: at(1) },
    );
    const fetched = run(
      [
        task("a", { state: "succeeded", finished_at: at(4), outputs: { result: { kind: "text", text: "hi", length: 2, truncated: false } } }),
        task("b", { state: "failed", finished_at: at(6), error: { message: "bad", type: "ValueError", traceback: "Traceback ..." } }),
        task("c", { state: "ready", history: [{ state: "ready", at: at(6) }] }),
      ],
      { state: "running", started_at: at(1) },
    );
    const merged = mergeSnapshot(live, fetched);
    expect(merged.tasks[0].outputs.result).toMatchObject({ kind: "text", text: "hi" });
    expect(merged.tasks[1].error?.traceback).toBe("Traceback ...");
    expect(merged.tasks[2].state).toBe("running");
  });

  it("keeps a run state the stream has already moved past", () => {
    const live = run([], { state: "succeeded", started_at: at(1), finished_at: at(9) });
    const stale = run([], { state: "running", started_at: at(1) });
    expect(mergeSnapshot(live, stale)).toMatchObject({ state: "succeeded", finished_at: at(9) });
    const retried = run([], { state: "queued", attempt: 2, started_at: at(1) });
    expect(mergeSnapshot(live, retried)).toMatchObject({ state: "queued", attempt: 2 });
  });
});

describe("taskOrder", () => {
  it("puts every task after its upstream tasks", () => {
    const tasks = [task("load", { upstream: ["clean"] }), task("clean", { upstream: ["extract"] }), task("extract"), task("side")];
    expect(taskOrder(tasks)).toEqual(["extract", "side", "clean", "load"]);
  });
});

describe("retryTargets", () => {
  it("is the failed and canceled tasks and everything downstream of them, in order", () => {
    const tasks = [
      task("extract", { state: "succeeded" }),
      task("gate", { state: "failed", upstream: ["extract"] }),
      task("report", { state: "upstream_failed", upstream: ["gate"] }),
      task("side", { state: "succeeded", upstream: ["extract"] }),
      task("after_side", { state: "succeeded", upstream: ["side", "gate"] }),
    ];
    expect(retryTargets(tasks)).toEqual(["gate", "report", "after_side"]);
    expect(retryTargets([task("a", { state: "succeeded" })])).toEqual([]);
  });
});
