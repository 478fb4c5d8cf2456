import { stateStyle, taskDurationMs, formatDuration, elapsedMs } from "../../lib/runStates";
import { useNow } from "./hooks";

/** A run's or task's state as a coloured badge (the same colours as the canvas and the timeline). */
export function StateBadge({ state, testId }: { state: string; testId?: string }) {
  const style = stateStyle(state);
  return (
    <span className={`run-state-badge state-${state}`} data-state={state} data-testid={testId} style={{ background: style.fill, borderColor: style.stroke }}>
      {style.active && <span className="run-state-pulse" aria-hidden="true" />}
      {style.label}
    </span>
  );
}

/** A task's duration, counting up every second while it runs. */
export function TaskDuration({ task }: { task: { duration_ms: number | null; started_at: string | null; finished_at: string | null; state: string } }) {
  const running = task.state === "running" || task.state === "retrying";
  const now = useNow(running);
  return <>{formatDuration(taskDurationMs(task, now))}</>;
}

/** From `start` to `end`, or counting up to now while there is no end. */
export function Elapsed({ start, end, live }: { start: string | null; end: string | null; live: boolean }) {
  const now = useNow(live && !end);
  return <>{formatDuration(elapsedMs(start, end, now))}</>;
}
