/**
 * One task of a run: its state and timings, its error with the traceback,
 * its log (GET .../tasks/{node}/logs, polled while it runs, plus what a
 * program printed), its output previews, and every state it went through.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { taskLogs, type TaskLogs, type TaskRun } from "../../api/runs";
import { useApi } from "../../app/services";
import { ErrorBox } from "../../components/ErrorBox";
import { Spinner } from "../../components/Spinner";
import { isTaskActive, stateStyle } from "../../lib/runStates";
import { absoluteTime } from "../../lib/time";
import { useRepeat } from "./hooks";
import { OutputPreview } from "./OutputPreview";
import { StateBadge, TaskDuration } from "./StateBadge";

type Tab = "logs" | "output" | "details";
const LOG_POLL_MS = 2000;

function TaskLog({ runId, task }: { runId: string; task: TaskRun }) {
  const api = useApi();
  const [logs, setLogs] = useState<TaskLogs | null>(null);
  const [error, setError] = useState<unknown>(null);
  const end = useRef<HTMLPreElement | null>(null);
  const running = isTaskActive(task.state);

  const load = useCallback(
    async (signal: AbortSignal) => {
      try {
        const answer = await taskLogs(api, runId, task.node_id, signal);
        if (signal.aborted) return;
        setLogs(answer);
        setError(null);
      } catch (e) {
        if (!signal.aborted) setError(e);
      }
    },
    [api, runId, task.node_id],
  );
  useEffect(() => setLogs(null), [runId, task.node_id]);
  // poll while the task runs; fetch once more whenever its state or attempt changes
  useRepeat(load, LOG_POLL_MS, running, `${runId}|${task.node_id}|${task.state}|${task.attempts}`);

  const lineCount = logs?.lines.length ?? 0;
  useEffect(() => {
    if (running && end.current) end.current.scrollTop = end.current.scrollHeight;
  }, [lineCount, running]);

  const printed = task.outputs.stdout?.kind === "text" ? task.outputs.stdout : null;
  return (
    <div className="task-logs" data-testid="task-logs">
      {error !== null && <ErrorBox error={error} />}
      {!logs && error === null && <Spinner small label="Loading the log…" />}
      {logs && (
        <>
          <div className="task-logs-head small-text muted">
            {logs.attempt > 0 ? `Attempt ${logs.attempt}` : "Not started"} · {logs.lines.length} line{logs.lines.length === 1 ? "" : "s"}
            {running && (
              <span className="live-dot" title="updating while the task runs">
                {" "}
                live
              </span>
            )}
          </div>
          {logs.lines.length > 0 ? (
            <pre className="log-lines" ref={end} data-testid="task-log-lines">
              {logs.lines.map((line, index) => (
                <span key={index} className={/ (ERROR|CRITICAL) /.test(line) ? "log-line error" : / WARNING /.test(line) ? "log-line warning" : "log-line"}>
                  {line}
                  {"\n"}
                </span>
              ))}
            </pre>
          ) : (
            <p className="muted small-text">{running ? "Nothing logged yet." : "The task logged nothing."}</p>
          )}
        </>
      )}
      {printed && (
        <>
          <h4>Printed by the program</h4>
          <pre className="log-lines" data-testid="task-printed">
            {printed.text || "(nothing)"}
          </pre>
        </>
      )}
    </div>
  );
}

function TaskError({ task }: { task: TaskRun }) {
  if (!task.error) return null;
  return (
    <div className="task-error" role="alert" data-testid="task-error">
      <strong>
        {task.error.type ? `${task.error.type}: ` : ""}
        {task.error.message}
      </strong>
      {task.error.traceback && (
        <details>
          <summary>Traceback</summary>
          <pre className="log-lines">{task.error.traceback}</pre>
        </details>
      )}
    </div>
  );
}

function TaskOutputs({ task }: { task: TaskRun }) {
  const names = Object.keys(task.outputs);
  if (names.length === 0) {
    return (
      <p className="muted">
        {task.state === "succeeded" ? "This task produced no outputs." : isTaskActive(task.state) ? "Outputs appear when the task succeeds." : "No outputs."}
      </p>
    );
  }
  return (
    <div className="task-outputs">
      {names.map((name) => (
        <section key={name} className="task-output" data-testid={`output-${name}`}>
          <h4>
            <span className="mono">{name}</span> <span className="port-kind">{task.outputs[name].kind}</span>
          </h4>
          <OutputPreview name={name} preview={task.outputs[name]} />
        </section>
      ))}
    </div>
  );
}

function TaskDetails({ task }: { task: TaskRun }) {
  return (
    <div className="task-details">
      <dl className="run-facts">
        <dt>Type</dt>
        <dd className="mono">{task.type}</dd>
        <dt>Attempts</dt>
        <dd>{task.attempts}</dd>
        <dt>Started</dt>
        <dd>{absoluteTime(task.started_at) || "—"}</dd>
        <dt>Finished</dt>
        <dd>{absoluteTime(task.finished_at) || "—"}</dd>
        <dt>Upstream</dt>
        <dd>{task.upstream.length > 0 ? task.upstream.join(", ") : "—"}</dd>
        {task.cached && (
          <>
            <dt>Cache</dt>
            <dd>outputs reused from an earlier run</dd>
          </>
        )}
      </dl>
      <h4>History</h4>
      <ol className="task-history">
        {task.history.map((entry, index) => (
          <li key={index}>
            <span className="history-dot" style={{ background: stateStyle(entry.state).fill }} />
            <span className="history-state">{stateStyle(entry.state).label}</span>
            {entry.attempt ? <span className="muted"> attempt {entry.attempt}</span> : null}
            <span className="muted small-text"> {absoluteTime(entry.at)}</span>
            {entry.error && <div className="small-text history-error">{entry.error}</div>}
          </li>
        ))}
      </ol>
    </div>
  );
}

export function TaskPanel({ runId, task, onClose }: { runId: string; task: TaskRun; onClose: () => void }) {
  const [tab, setTab] = useState<Tab>("logs");
  return (
    <aside className="task-panel" data-testid="task-panel" data-node={task.node_id} aria-label={`Task ${task.node_id}`}>
      <div className="task-panel-head">
        <div>
          <h2 className="mono">{task.node_id}</h2>
          <div className="task-panel-meta">
            <StateBadge state={task.state} testId="task-state" />
            <span className="muted small-text">
              {task.attempts > 0 ? `attempt ${task.attempts}` : "not started"} · <TaskDuration task={task} />
            </span>
          </div>
        </div>
        <button type="button" className="icon-button" aria-label="Close the task panel" onClick={onClose}>
          ×
        </button>
      </div>
      <TaskError task={task} />
      <div className="tabs" role="tablist">
        {(["logs", "output", "details"] as const).map((name) => (
          <button key={name} type="button" role="tab" aria-selected={tab === name} className={tab === name ? "tab active" : "tab"} onClick={() => setTab(name)}>
            {name === "logs" ? "Logs" : name === "output" ? `Output${Object.keys(task.outputs).length ? ` (${Object.keys(task.outputs).length})` : ""}` : "Details"}
          </button>
        ))}
      </div>
      <div className="task-panel-body">
        {tab === "logs" && <TaskLog runId={runId} task={task} />}
        {tab === "output" && <TaskOutputs task={task} />}
        {tab === "details" && <TaskDetails task={task} />}
      </div>
    </aside>
  );
}
