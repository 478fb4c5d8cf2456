/**
 * Run and task states as the UI shows them: one colour per state (the canvas,
 * the badges and the timeline agree), readable labels, and durations.
 * States follow flow_automation/engine/states.py.
 */

export interface StateStyle {
  /** Fill of a node or a timeline bar. */
  fill: string;
  /** Border and text on the fill's pale variant. */
  stroke: string;
  label: string;
  /** Whether the state is still moving (drawn animated). */
  active: boolean;
}

const STYLES: Record<string, StateStyle> = {
  pending: { fill: "#e5e7eb", stroke: "#6b7280", label: "pending", active: false },
  ready: { fill: "#dbeafe", stroke: "#3b82f6", label: "ready", active: true },
  queued: { fill: "#dbeafe", stroke: "#3b82f6", label: "queued", active: true },
  running: { fill: "#3157d5", stroke: "#2747b3", label: "running", active: true },
  retrying: { fill: "#f59e0b", stroke: "#b7791f", label: "retrying", active: true },
  succeeded: { fill: "#17845b", stroke: "#0f6b49", label: "succeeded", active: false },
  failed: { fill: "#c53030", stroke: "#9b2424", label: "failed", active: false },
  upstream_failed: { fill: "#f2a7a7", stroke: "#c53030", label: "upstream failed", active: false },
  skipped: { fill: "#cbd5e1", stroke: "#64748b", label: "skipped", active: false },
  canceled: { fill: "#9ca3af", stroke: "#4b5563", label: "canceled", active: false },
};

const UNKNOWN: StateStyle = { fill: "#e5e7eb", stroke: "#6b7280", label: "unknown", active: false };

export function stateStyle(state: string | null | undefined): StateStyle {
  return (state && STYLES[state]) || { ...UNKNOWN, label: state || UNKNOWN.label };
}

export const RUN_TERMINAL: ReadonlySet<string> = new Set(["succeeded", "failed", "canceled"]);
export const TASK_TERMINAL: ReadonlySet<string> = new Set(["succeeded", "failed", "skipped", "upstream_failed", "canceled"]);

export function isRunActive(state: string): boolean {
  return state === "queued" || state === "running";
}

export function isTaskActive(state: string): boolean {
  return state === "running" || state === "retrying";
}

/** Whether a run in this state can be retried from its failed tasks (the server allows failed and canceled). */
export function canRetry(state: string): boolean {
  return state === "failed" || state === "canceled";
}

/** "340 ms", "4.2 s", "3 min 05 s", "2 h 07 min"; "—" for nothing. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 10) return `${seconds.toFixed(1)} s`;
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const totalSeconds = Math.round(seconds);
  const minutes = Math.floor(totalSeconds / 60);
  if (minutes < 60) return `${minutes} min ${String(totalSeconds % 60).padStart(2, "0")} s`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${String(minutes % 60).padStart(2, "0")} min`;
}

/** How long something took from `start` to `end` (or to `now` while it runs), in ms; null without a start. */
export function elapsedMs(start: string | null | undefined, end: string | null | undefined, now: number): number | null {
  if (!start) return null;
  const from = Date.parse(start);
  if (Number.isNaN(from)) return null;
  const to = end ? Date.parse(end) : now;
  return Number.isNaN(to) ? null : Math.max(0, to - from);
}

/** A task's duration: what the executor measured when it ended, else the time since it started. */
export function taskDurationMs(
  task: { duration_ms: number | null; started_at: string | null; finished_at: string | null; state: string },
  now: number,
): number | null {
  if (task.duration_ms !== null && task.duration_ms !== undefined) return task.duration_ms;
  if (isTaskActive(task.state)) return elapsedMs(task.started_at, null, now);
  if (task.finished_at) return elapsedMs(task.started_at, task.finished_at, now);
  return null;
}
