/**
 * The run's timeline: the Gantt layout (lib/gantt.ts) drawn as rows of bars,
 * sized to the space it has, counting up while tasks run. A click on a row
 * selects its task, as on the canvas.
 */
import { type RefObject, useEffect, useMemo, useRef, useState } from "react";
import type { TaskRun } from "../../api/runs";
import { ganttLayout } from "../../lib/gantt";
import { stateStyle } from "../../lib/runStates";
import { absoluteTime } from "../../lib/time";
import { useNow } from "./hooks";

const LABEL_WIDTH = 150;
const DURATION_WIDTH = 110;

function useWidth(): [RefObject<HTMLDivElement | null>, number] {
  const ref = useRef<HTMLDivElement | null>(null);
  const [width, setWidth] = useState(600);
  useEffect(() => {
    const element = ref.current;
    if (!element) return;
    const observer = new ResizeObserver((entries) => {
      const measured = entries[0]?.contentRect.width;
      if (measured) setWidth(Math.floor(measured));
    });
    observer.observe(element);
    return () => observer.disconnect();
  }, []);
  return [ref, width];
}

export function Gantt({
  tasks,
  order,
  runStartedAt,
  live,
  selected,
  onSelect,
}: {
  tasks: TaskRun[];
  order: string[];
  runStartedAt: string | null;
  live: boolean;
  selected: string | null;
  onSelect: (nodeId: string) => void;
}) {
  const [ref, width] = useWidth();
  const now = useNow(live);
  const chartWidth = Math.max(120, width - LABEL_WIDTH - DURATION_WIDTH - 16);
  const layout = useMemo(
    () => ganttLayout(tasks, { width: chartWidth, now, runStartedAt, order, tickSpacing: 90 }),
    [tasks, chartWidth, now, runStartedAt, order],
  );
  const byId = useMemo(() => new Map(tasks.map((task) => [task.node_id, task])), [tasks]);

  return (
    <div className="gantt" ref={ref} data-testid="gantt">
      <div className="gantt-axis" style={{ marginLeft: LABEL_WIDTH, width: chartWidth }}>
        {layout.ticks.map((tick) => (
          <span key={tick.x} className="gantt-tick" style={{ left: tick.x }}>
            {tick.label}
          </span>
        ))}
      </div>
      {layout.origin === null && <p className="muted small-text gantt-empty">No task has started yet.</p>}
      <div className="gantt-rows" role="list">
        {layout.rows.map((row) => {
          const style = stateStyle(row.state);
          const task = byId.get(row.node_id);
          return (
            <button
              type="button"
              role="listitem"
              key={row.node_id}
              className={row.node_id === selected ? "gantt-row selected" : "gantt-row"}
              onClick={() => onSelect(row.node_id)}
              data-testid={`gantt-row-${row.node_id}`}
            >
              <span className="gantt-label mono" style={{ width: LABEL_WIDTH }} title={row.node_id}>
                {row.node_id}
              </span>
              <span className="gantt-track" style={{ width: chartWidth }}>
                {layout.ticks.map((tick) => (
                  <span key={tick.x} className="gantt-gridline" style={{ left: tick.x }} />
                ))}
                {row.bar && row.bar.waitX !== null && row.bar.waitWidth !== null && row.bar.waitWidth >= 1 && (
                  <span className="gantt-wait" style={{ left: row.bar.waitX, width: row.bar.waitWidth }} title="waiting for an executor" />
                )}
                {row.bar && (
                  <span
                    className={row.bar.running ? "gantt-bar running" : "gantt-bar"}
                    data-testid={`gantt-bar-${row.node_id}`}
                    data-state={row.state}
                    style={{ left: row.bar.x, width: row.bar.width, background: style.fill, borderColor: style.stroke }}
                    title={`${row.node_id}: ${style.label}, ${row.bar.label} (from ${absoluteTime(task?.started_at)})`}
                  />
                )}
              </span>
              <span className="gantt-duration" style={{ width: DURATION_WIDTH }}>
                {row.bar ? row.bar.label : style.label}
              </span>
            </button>
          );
        })}
      </div>
    </div>
  );
}
