/**
 * One run, live: the flow's canvas with every task coloured by its state
 * (moved along by the run's event stream), the timeline of task durations,
 * and the selected task's panel (log, error, outputs). Cancel and retry from
 * failed, each confirmed, for users allowed to run flows (flows:run).
 */
import { useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { getFlow } from "../../api/flows";
import { cancelRun, retryRun, type RunDetail } from "../../api/runs";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { ErrorBox } from "../../components/ErrorBox";
import { ConfirmDialog } from "../../components/Modal";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import type { Point } from "../../lib/layout";
import { retryTargets, taskOrder } from "../../lib/runLive";
import { canRetry, isRunActive } from "../../lib/runStates";
import { absoluteTime, relativeTime } from "../../lib/time";
import { Gantt } from "./Gantt";
import { RunCanvas } from "./RunCanvas";
import { Elapsed, StateBadge } from "./StateBadge";
import { TaskPanel } from "./TaskPanel";
import { type LiveStatus, useLiveRun } from "./useLiveRun";
import "./runs.css";

interface FlowLayout {
  positions: Record<string, Point>;
  titles: Record<string, string>;
  name: string | null;
}

const EMPTY_LAYOUT: FlowLayout = { positions: {}, titles: {}, name: null };

/** Where the designer placed the run's version's nodes, and their titles (nothing when the flow is gone). */
function useFlowLayout(flowId: string | undefined, version: number | undefined): FlowLayout {
  const api = useApi();
  const [layout, setLayout] = useState<FlowLayout>(EMPTY_LAYOUT);
  useEffect(() => {
    if (!flowId || !version) return;
    let current = true;
    getFlow(api, flowId, version)
      .then((flow) => {
        if (!current) return;
        const raw = (flow.definition.ui?.positions ?? {}) as Record<string, Partial<Point>>;
        const positions: Record<string, Point> = {};
        for (const [id, point] of Object.entries(raw)) {
          if (typeof point?.x === "number" && typeof point?.y === "number") positions[id] = { x: point.x, y: point.y };
        }
        const titles = Object.fromEntries(flow.definition.nodes.filter((n) => n.title).map((n) => [n.id, String(n.title)]));
        setLayout({ positions, titles, name: flow.name });
      })
      .catch(() => current && setLayout(EMPTY_LAYOUT)); // a deleted flow: the run still shows, laid out from its tasks
    return () => {
      current = false;
    };
  }, [api, flowId, version]);
  return layout;
}

function StreamIndicator({ status, applied, onReconnect }: { status: LiveStatus; applied: number; onReconnect: () => void }) {
  let text: string;
  let kind = status.kind;
  switch (status.kind) {
    case "open":
      text = "live";
      break;
    case "connecting":
      text = status.attempt > 1 ? `reconnecting (try ${status.attempt})…` : "connecting…";
      break;
    case "reconnecting":
      text = `connection lost (${status.reason}); retrying in ${Math.ceil(status.delayMs / 1000)} s`;
      break;
    case "ended":
      text = "run over";
      break;
    case "failed":
      text = "live updates stopped";
      break;
    default:
      text = "";
      kind = "idle";
  }
  return (
    <span className={`stream-status ${kind}`} data-testid="stream-status" data-status={status.kind} data-events={applied}>
      <span className="stream-dot" aria-hidden="true" />
      {text}
      {status.kind === "failed" && (
        <button type="button" className="button small" onClick={onReconnect}>
          Reconnect
        </button>
      )}
    </span>
  );
}

type Pending = { action: "cancel" | "retry"; error: unknown };

export function RunDetailScreen() {
  const { runId = "" } = useParams();
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const navigate = useNavigate();
  const [search, setSearch] = useSearchParams();
  const live = useLiveRun(runId);
  const { run } = live;
  const layout = useFlowLayout(run?.flow_id, run?.version);
  const selected = search.get("task");
  const [pending, setPending] = useState<Pending | null>(null);
  const [busy, setBusy] = useState(false);

  const order = useMemo(() => (run ? taskOrder(run.tasks) : []), [run]);
  const selectedTask = run?.tasks.find((task) => task.node_id === selected) ?? null;
  const select = (nodeId: string | null) => {
    const next = new URLSearchParams(search);
    if (nodeId) next.set("task", nodeId);
    else next.delete("task");
    setSearch(next, { replace: true });
  };

  const act = async () => {
    if (!pending || !run) return;
    setBusy(true);
    try {
      const answer: RunDetail = pending.action === "cancel" ? await cancelRun(api, run.id) : await retryRun(api, run.id);
      live.accept(answer);
      toast.success(pending.action === "cancel" ? `Canceling run ${run.id}` : `Retrying run ${run.id} (attempt ${answer.attempt})`);
      setPending(null);
    } catch (error) {
      setPending({ ...pending, error });
      live.reload();
    } finally {
      setBusy(false);
    }
  };

  if (live.loadError !== null && !run) {
    return (
      <div className="page runs-page">
        <div className="page-head">
          <h1>Run {runId}</h1>
          <Link className="button" to="/runs">
            Back to runs
          </Link>
        </div>
        <ErrorBox error={live.loadError} onRetry={live.reload} />
      </div>
    );
  }
  if (!run) {
    return (
      <div className="page runs-page">
        <Spinner label="Loading the run…" />
      </div>
    );
  }

  const active = isRunActive(run.state);
  const targets = retryTargets(run.tasks);
  return (
    <div className="run-detail" data-testid="run-detail" data-run-id={run.id} data-state={run.state}>
      <div className="run-head">
        <div className="run-title">
          <h1>
            <span className="muted">Run</span> <span className="mono">{run.id}</span>
          </h1>
          <div className="run-subtitle small-text">
            <Link to={`/runs?flow=${encodeURIComponent(run.flow_id)}`}>{layout.name ?? run.flow_id}</Link>
            <span className="muted"> v{run.version}</span>
            <span className="muted"> · {run.trigger?.type ?? "manual"}</span>
            {run.attempt > 1 && <span className="muted"> · attempt {run.attempt}</span>}
            <span className="muted" title={absoluteTime(run.created_at)}>
              {" "}
              · created {relativeTime(run.created_at)}
              {run.created_by ? ` by ${run.created_by}` : ""}
            </span>
            {Object.keys(run.params).length > 0 && (
              <span className="muted mono" title={JSON.stringify(run.params, null, 2)}>
                {" "}
                · params {JSON.stringify(run.params).slice(0, 80)}
              </span>
            )}
          </div>
        </div>
        <div className="run-status">
          <StateBadge state={run.state} testId="run-state" />
          <span className="run-elapsed" title="duration">
            <Elapsed start={run.started_at} end={run.finished_at} live={active} />
          </span>
          <StreamIndicator status={live.status} applied={live.applied} onReconnect={live.reconnect} />
        </div>
        <div className="run-actions">
          {can.runFlows && active && (
            <button type="button" className="button danger" disabled={run.cancel_requested} onClick={() => setPending({ action: "cancel", error: null })}>
              {run.cancel_requested ? "Canceling…" : "Cancel run"}
            </button>
          )}
          {can.runFlows && canRetry(run.state) && (
            <button type="button" className="button primary" onClick={() => setPending({ action: "retry", error: null })}>
              Retry from failed
            </button>
          )}
          {can.runFlows && (
            <button
              type="button"
              className="button"
              onClick={() => navigate(`/runs/new?flow=${encodeURIComponent(run.flow_id)}&from=${encodeURIComponent(run.id)}`)}
            >
              Run again…
            </button>
          )}
        </div>
      </div>

      <div className="run-body">
        <div className="run-main">
          <div className="run-canvas" data-testid="run-canvas" data-events={live.applied}>
            <RunCanvas tasks={run.tasks} positions={layout.positions} titles={layout.titles} selected={selected} onSelect={select} />
          </div>
          <section className="run-timeline" aria-label="Timeline">
            <h3>Timeline</h3>
            <Gantt tasks={run.tasks} order={order} runStartedAt={run.started_at} live={active} selected={selected} onSelect={select} />
          </section>
        </div>
        {selectedTask ? (
          <TaskPanel runId={run.id} task={selectedTask} onClose={() => select(null)} />
        ) : (
          <aside className="task-panel empty-panel">
            <p className="muted">Select a task on the canvas or the timeline to see its log, error and outputs.</p>
            <ul className="task-pick-list">
              {order.map((nodeId) => {
                const task = run.tasks.find((t) => t.node_id === nodeId)!;
                return (
                  <li key={nodeId}>
                    <button type="button" className="button ghost" onClick={() => select(nodeId)}>
                      <StateBadge state={task.state} /> <span className="mono">{nodeId}</span>
                    </button>
                  </li>
                );
              })}
            </ul>
          </aside>
        )}
      </div>

      {pending && (
        <ConfirmDialog
          title={pending.action === "cancel" ? "Cancel this run?" : "Retry from the failed tasks?"}
          confirmLabel={pending.action === "cancel" ? "Cancel run" : "Retry"}
          danger={pending.action === "cancel"}
          busy={busy}
          onCancel={() => !busy && setPending(null)}
          onConfirm={() => void act()}
          message={
            <>
              {pending.action === "cancel" ? (
                <p>
                  Run <span className="mono">{run.id}</span> stops: waiting tasks are canceled at once, running ones at their next check.
                </p>
              ) : (
                <p>
                  {targets.length > 0 ? (
                    <>
                      These tasks run again: <span className="mono">{targets.join(", ")}</span>. The outputs of the tasks that succeeded are reused.
                    </>
                  ) : (
                    "The run's failed tasks run again; the outputs of the tasks that succeeded are reused."
                  )}
                </p>
              )}
              {busy && <Spinner small label={pending.action === "cancel" ? "Canceling…" : "Starting the retry…"} />}
              {pending.error !== null && <ErrorBox error={pending.error} />}
            </>
          }
        />
      )}
    </div>
  );
}
