/**
 * The layout of a run's timeline (a Gantt chart): one row per task, a bar
 * from when its latest attempt started to when it ended (or to now while it
 * runs), a lighter lead-in while it waited for an executor after becoming
 * ready, and time ticks at round steps. Pixels only; the component draws them.
 */
import { formatDuration, isTaskActive, taskDurationMs } from "./runStates";

export interface GanttTask {
  node_id: string;
  state: string;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  ready_at?: string | null;
}

export interface GanttBar {
  x: number;
  width: number;
  /** The wait between ready and started, drawn before the bar (null when unknown). */
  waitX: number | null;
  waitWidth: number | null;
  /** Offset of the start from the timeline's origin, in ms. */
  offsetMs: number;
  durationMs: number;
  running: boolean;
  label: string;
}

export interface GanttRow {
  node_id: string;
  state: string;
  bar: GanttBar | null;
}

export interface GanttTick {
  x: number;
  label: string;
}

export interface GanttLayout {
  /** Epoch ms at x = 0, or null when no task has started. */
  origin: number | null;
  spanMs: number;
  width: number;
  rows: GanttRow[];
  ticks: GanttTick[];
}

export interface GanttOptions {
  /** Width of the chart area in px. */
  width: number;
  now: number;
  /** The run's own start; the origin is the earlier of it and the first task's start. */
  runStartedAt?: string | null;
  /** Node order for rows that tie (and for tasks that never started): e.g. topological. */
  order?: readonly string[];
  minBarWidth?: number;
  /** Pixels between ticks, at least. */
  tickSpacing?: number;
}

const TICK_STEPS_MS = [
  1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 900_000,
  1_800_000, 3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000, 86_400_000,
];

/** The smallest round step that keeps at most `maxTicks` intervals over `spanMs`. */
export function tickStep(spanMs: number, maxTicks: number): number {
  const limit = Math.max(1, maxTicks);
  for (const step of TICK_STEPS_MS) if (spanMs / step <= limit) return step;
  return Math.ceil(spanMs / limit / 86_400_000) * 86_400_000;
}

/** "0", "500 ms", "2 s", "1 min", "1 min 30 s", "2 h". */
export function tickLabel(ms: number): string {
  if (ms === 0) return "0";
  if (ms < 1000) return `${ms} ms`;
  if (ms < 60_000) return `${ms / 1000} s`;
  if (ms < 3_600_000) {
    const minutes = Math.floor(ms / 60_000);
    const seconds = Math.round((ms % 60_000) / 1000);
    return seconds ? `${minutes} min ${seconds} s` : `${minutes} min`;
  }
  const hours = Math.floor(ms / 3_600_000);
  const minutes = Math.round((ms % 3_600_000) / 60_000);
  return minutes ? `${hours} h ${minutes} min` : `${hours} h`;
}

function parse(value: string | null | undefined): number | null {
  if (!value) return null;
  const parsed = Date.parse(value);
  return Number.isNaN(parsed) ? null : parsed;
}

interface Span {
  task: GanttTask;
  start: number | null;
  end: number | null;
  ready: number | null;
}

export function ganttLayout(tasks: readonly GanttTask[], options: GanttOptions): GanttLayout {
  const width = Math.max(1, options.width);
  const minBarWidth = options.minBarWidth ?? 2;
  const rank = new Map((options.order ?? []).map((id, index) => [id, index]));
  const rankOf = (id: string) => rank.get(id) ?? Number.MAX_SAFE_INTEGER;

  const spans: Span[] = tasks.map((task) => {
    const start = parse(task.started_at);
    let end: number | null = null;
    if (start !== null) {
      if (isTaskActive(task.state)) end = Math.max(start, options.now);
      else end = parse(task.finished_at) ?? (task.duration_ms !== null ? start + task.duration_ms : start);
    }
    const ready = parse(task.ready_at ?? null);
    return { task, start, end, ready: ready !== null && start !== null && ready < start ? ready : null };
  });

  const starts = spans.flatMap((s) => [s.ready ?? s.start]).filter((v): v is number => v !== null);
  const runStart = parse(options.runStartedAt ?? null);
  const origin = starts.length > 0 ? Math.min(...starts, ...(runStart !== null ? [runStart] : [])) : null;
  const lastEnd = Math.max(...spans.map((s) => s.end ?? Number.NEGATIVE_INFINITY));
  const spanMs = origin === null ? 1000 : Math.max(1000, lastEnd - origin);
  const scale = width / spanMs;

  const sorted = [...spans].sort((a, b) => {
    if (a.start !== null && b.start !== null && a.start !== b.start) return a.start - b.start;
    if ((a.start === null) !== (b.start === null)) return a.start === null ? 1 : -1;
    return rankOf(a.task.node_id) - rankOf(b.task.node_id) || a.task.node_id.localeCompare(b.task.node_id);
  });

  const rows: GanttRow[] = sorted.map(({ task, start, end, ready }) => {
    if (origin === null || start === null || end === null) return { node_id: task.node_id, state: task.state, bar: null };
    const x = Math.min(width - minBarWidth, (start - origin) * scale);
    const barWidth = Math.max(minBarWidth, Math.min(width - x, (end - start) * scale));
    const duration = taskDurationMs(task, options.now) ?? end - start;
    return {
      node_id: task.node_id,
      state: task.state,
      bar: {
        x,
        width: barWidth,
        waitX: ready !== null ? (ready - origin) * scale : null,
        waitWidth: ready !== null ? (start - ready) * scale : null,
        offsetMs: start - origin,
        durationMs: duration,
        running: isTaskActive(task.state),
        label: formatDuration(duration),
      },
    };
  });

  const step = tickStep(spanMs, Math.floor(width / (options.tickSpacing ?? 80)));
  const ticks: GanttTick[] = [];
  for (let at = 0; at <= spanMs; at += step) ticks.push({ x: at * scale, label: tickLabel(at) });

  return { origin, spanMs, width, rows, ticks };
}
