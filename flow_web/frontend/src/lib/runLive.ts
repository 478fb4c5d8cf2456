/**
 * A run kept current by its event stream: each `run` or `task` event
 * (flow_automation/engine/events.py) updates the run view GET /api/v1/runs/{id}
 * returned, and a later snapshot is merged back in for what events do not
 * carry (output previews, tracebacks).
 *
 * The stream replays a run's events from its first one, so a view opened in
 * the middle of a run first sees events older than its snapshot. An event
 * older than what the view already shows (by its `at`, or a run event of an
 * earlier attempt) is not applied, so nothing flickers back to an old state.
 */
import type { RunDetail, RunState, TaskError, TaskRun, TaskState } from "../api/runs";
import type { SseMessage } from "./sse";
import { RUN_TERMINAL, TASK_TERMINAL } from "./runStates";

export interface RunEvent {
  kind: "run" | "task";
  run_id: string;
  flow_id?: string;
  node_id?: string;
  state: string;
  attempt: number;
  at: string;
  duration_ms?: number;
  error?: string;
  cached?: boolean;
  retry?: boolean;
  tasks?: string[];
  task_counts?: Record<string, number>;
}

export type StreamItem = { type: "event"; event: RunEvent } | { type: "snapshot"; run: RunDetail };

/** An SSE message of a run's stream, decoded; null for anything else. */
export function parseRunMessage(message: SseMessage): StreamItem | null {
  let data: unknown;
  try {
    data = JSON.parse(message.data);
  } catch {
    return null;
  }
  if (!data || typeof data !== "object") return null;
  const value = data as Record<string, unknown>;
  if (message.event === "snapshot" && Array.isArray(value.tasks)) return { type: "snapshot", run: value as unknown as RunDetail };
  if ((value.kind === "run" || value.kind === "task") && typeof value.state === "string" && typeof value.at === "string") {
    return { type: "event", event: value as unknown as RunEvent };
  }
  return null;
}

/** Whether the event is the end of the run's latest attempt (the server closes the stream after it). */
export function isFinalEvent(event: RunEvent, latestAttempt: number): boolean {
  return event.kind === "run" && RUN_TERMINAL.has(event.state) && event.attempt >= latestAttempt;
}

function time(value: string | null | undefined): number {
  if (!value) return Number.NEGATIVE_INFINITY;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? Number.NEGATIVE_INFINITY : parsed;
}

/** The latest moment a task's view knows about. */
export function taskAsOf(task: TaskRun): number {
  let latest = Math.max(time(task.started_at), time(task.finished_at));
  for (const entry of task.history ?? []) latest = Math.max(latest, time(entry.at));
  return latest;
}

/** The latest moment a run's view knows about (its own timestamps, not its tasks'). */
export function runAsOf(run: RunDetail): number {
  return Math.max(time(run.created_at), time(run.started_at), time(run.finished_at));
}

function applyTaskEvent(task: TaskRun, event: RunEvent): TaskRun | null {
  if (time(event.at) < taskAsOf(task)) return null;
  const state = event.state as TaskState;
  const next: TaskRun = {
    ...task,
    state,
    attempts: event.attempt > 0 ? Math.max(task.attempts, event.attempt) : task.attempts,
    history: [
      ...(task.history ?? []),
      { state, at: event.at, ...(event.attempt > 0 ? { attempt: event.attempt } : {}), ...(event.error ? { error: event.error } : {}) },
    ],
  };
  if (state === "running") {
    Object.assign(next, { started_at: event.at, finished_at: null, duration_ms: null, error: null, outputs: {} });
  } else if (state === "retrying") {
    next.error = event.error ? { message: event.error } : task.error;
  } else if (state === "ready" || state === "pending") {
    Object.assign(next, { finished_at: null, duration_ms: null });
  } else if (TASK_TERMINAL.has(state)) {
    next.finished_at = event.at;
    next.duration_ms = event.duration_ms ?? null;
    next.cached = event.cached ?? false;
    const error: TaskError | null = event.error
      ? task.error?.message === event.error
        ? task.error
        : { message: event.error }
      : null;
    next.error = state === "succeeded" ? null : error;
  }
  return next;
}

function applyRunLevelEvent(run: RunDetail, event: RunEvent): RunDetail | null {
  if (event.attempt < run.attempt) return null;
  if (event.attempt === run.attempt && time(event.at) < runAsOf(run)) return null;
  const state = event.state as RunState;
  const next: RunDetail = { ...run, state, attempt: event.attempt };
  if (state === "queued" && event.retry) {
    const again = new Set(event.tasks ?? []);
    next.finished_at = null;
    next.cancel_requested = false;
    next.tasks = run.tasks.map((task) =>
      again.has(task.node_id)
        ? { ...task, state: "pending", error: null, started_at: null, finished_at: null, duration_ms: null, outputs: {} }
        : task,
    );
  } else if (state === "running") {
    next.started_at = run.started_at ?? event.at;
  } else if (RUN_TERMINAL.has(state)) {
    next.finished_at = event.at;
    next.task_counts = event.task_counts ?? run.task_counts;
  }
  return next;
}

/** The run with the event applied, or null when the event is not news (another run, or older than the view). */
export function applyRunEvent(run: RunDetail, event: RunEvent): RunDetail | null {
  if (event.run_id !== run.id) return null;
  if (event.kind === "run") return applyRunLevelEvent(run, event);
  const index = run.tasks.findIndex((task) => task.node_id === event.node_id);
  if (index === -1) return null;
  const task = applyTaskEvent(run.tasks[index], event);
  if (!task) return null;
  const tasks = [...run.tasks];
  tasks[index] = task;
  return { ...run, tasks };
}

/**
 * A fresh GET of the run merged into the live view: each task (and the run
 * itself) comes from the snapshot when the snapshot is as new or in the same
 * state (it has the outputs and the full error), else the live view's stays.
 */
export function mergeSnapshot(current: RunDetail, snapshot: RunDetail): RunDetail {
  if (snapshot.id !== current.id) return snapshot;
  const runNewer =
    snapshot.attempt > current.attempt ||
    (snapshot.attempt === current.attempt && (snapshot.state === current.state || runAsOf(snapshot) >= runAsOf(current)));
  const base: RunDetail = runNewer ? snapshot : { ...snapshot, state: current.state, attempt: current.attempt, started_at: current.started_at, finished_at: current.finished_at, task_counts: current.task_counts };
  const live = new Map(current.tasks.map((task) => [task.node_id, task]));
  const tasks = snapshot.tasks.map((fresh) => {
    const known = live.get(fresh.node_id);
    if (!known || fresh.state === known.state || taskAsOf(fresh) >= taskAsOf(known)) return fresh;
    return known;
  });
  return { ...base, tasks };
}

/** The run's tasks in an order where every task comes after its upstream tasks. */
export function taskOrder(tasks: readonly TaskRun[]): string[] {
  const ids = tasks.map((task) => task.node_id);
  const known = new Set(ids);
  const placed = new Set<string>();
  const order: string[] = [];
  let progress = true;
  while (order.length < ids.length && progress) {
    progress = false;
    for (const task of tasks) {
      if (placed.has(task.node_id)) continue;
      if ((task.upstream ?? []).every((up) => placed.has(up) || !known.has(up))) {
        placed.add(task.node_id);
        order.push(task.node_id);
        progress = true;
      }
    }
  }
  return [...order, ...ids.filter((id) => !placed.has(id))];
}

/** The tasks a retry runs again: the failed, upstream-failed and canceled ones, and everything after them. */
export function retryTargets(tasks: readonly TaskRun[]): string[] {
  const downstream = new Map<string, string[]>();
  for (const task of tasks) for (const up of task.upstream ?? []) downstream.set(up, [...(downstream.get(up) ?? []), task.node_id]);
  const again = new Set(tasks.filter((task) => ["failed", "upstream_failed", "canceled"].includes(task.state)).map((task) => task.node_id));
  const todo = [...again];
  while (todo.length > 0) {
    for (const next of downstream.get(todo.pop()!) ?? []) {
      if (!again.has(next)) {
        again.add(next);
        todo.push(next);
      }
    }
  }
  return taskOrder(tasks).filter((id) => again.has(id));
}
