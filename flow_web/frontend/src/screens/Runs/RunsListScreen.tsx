/**
 * Run history: newest first, filtered by flow and state (kept in the URL, so a
 * filtered list can be linked), paged by the server's cursor, refreshed every
 * few seconds while a run on the first page is still going.
 */
import { useCallback, useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { listFlows } from "../../api/flows";
import { listRuns, RUN_STATES, type RunSummary } from "../../api/runs";
import type { FlowSummary, Page } from "../../api/types";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { ErrorBox } from "../../components/ErrorBox";
import { Spinner } from "../../components/Spinner";
import { isRunActive } from "../../lib/runStates";
import { absoluteTime, relativeTime } from "../../lib/time";
import { useRepeat } from "./hooks";
import { Elapsed, StateBadge } from "./StateBadge";
import "./runs.css";

const PAGE_SIZE = 25;
const REFRESH_MS = 4000;

function taskSummary(counts: Record<string, number> | null): string {
  if (!counts) return "";
  return Object.entries(counts)
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${count} ${state.replace("_", " ")}`)
    .join(", ");
}

function triggerText(trigger: RunSummary["trigger"]): string {
  if (!trigger) return "—";
  if (trigger.type === "manual") return "manual";
  if (trigger.type === "retry") return "retry";
  return String(trigger.type);
}

export function RunsListScreen() {
  const api = useApi();
  const can = usePermissions();
  const navigate = useNavigate();
  const [search, setSearch] = useSearchParams();
  const flow = search.get("flow") ?? "";
  const state = search.get("state") ?? "";
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1];
  const [page, setPage] = useState<Page<RunSummary> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [flows, setFlows] = useState<FlowSummary[]>([]);
  const [flowInput, setFlowInput] = useState(flow);

  useEffect(() => setFlowInput(flow), [flow]);
  useEffect(() => setCursors([null]), [flow, state]);

  useEffect(() => {
    const controller = new AbortController();
    listFlows(api, { limit: 200 })
      .then((answer) => !controller.signal.aborted && setFlows(answer.items))
      .catch(() => undefined); // the filter still takes any flow id typed in
    return () => controller.abort();
  }, [api]);

  const load = useCallback(
    async (signal: AbortSignal) => {
      try {
        const answer = await listRuns(api, { flow: flow || undefined, state: state || undefined, cursor, limit: PAGE_SIZE }, signal);
        if (signal.aborted) return;
        setPage(answer);
        setError(null);
      } catch (e) {
        if (!signal.aborted) setError(e);
      } finally {
        if (!signal.aborted) setLoading(false);
      }
    },
    [api, flow, state, cursor],
  );

  const anyActive = useMemo(() => (page?.items ?? []).some((run) => isRunActive(run.state)), [page]);
  useEffect(() => setLoading(true), [flow, state, cursor]);
  useRepeat(load, REFRESH_MS, anyActive && cursor === null, `${flow}|${state}|${cursor ?? ""}`);

  const setFilter = (name: "flow" | "state", value: string) => {
    const next = new URLSearchParams(search);
    if (value) next.set(name, value);
    else next.delete(name);
    setSearch(next, { replace: true });
  };

  const startHref = flow ? `/runs/new?flow=${encodeURIComponent(flow)}` : "/runs/new";

  return (
    <div className="page runs-page">
      <div className="page-head">
        <h1>Runs</h1>
        {can.runFlows && (
          <button type="button" className="button primary" onClick={() => navigate(startHref)}>
            Start a run
          </button>
        )}
      </div>
      <form
        className="runs-filters"
        onSubmit={(event) => {
          event.preventDefault();
          setFilter("flow", flowInput.trim());
        }}
      >
        <label className="field">
          Flow
          <input
            list="runs-flow-ids"
            value={flowInput}
            placeholder="all flows"
            aria-label="Filter by flow"
            onChange={(event) => setFlowInput(event.target.value)}
            onBlur={() => flowInput.trim() !== flow && setFilter("flow", flowInput.trim())}
          />
          <datalist id="runs-flow-ids">
            {flows.map((item) => (
              <option key={item.id} value={item.id}>
                {item.name}
              </option>
            ))}
          </datalist>
        </label>
        <label className="field">
          State
          <select value={state} aria-label="Filter by state" onChange={(event) => setFilter("state", event.target.value)}>
            <option value="">any state</option>
            {RUN_STATES.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
        {(flow || state) && (
          <button type="button" className="button ghost" onClick={() => setSearch(new URLSearchParams(), { replace: true })}>
            Clear filters
          </button>
        )}
        <span className="grow" />
        {loading && page && <Spinner small label="Refreshing…" />}
      </form>

      {error !== null && <ErrorBox error={error} onRetry={() => void load(new AbortController().signal)} />}
      {!page && loading && !error && <Spinner label="Loading runs…" />}
      {page && (
        <div className="card table-card">
          {page.items.length === 0 ? (
            <div className="empty">
              {flow || state ? "No run matches these filters." : "No runs yet."}
              {can.runFlows && (
                <>
                  {" "}
                  <Link to={startHref}>Start one</Link>.
                </>
              )}
            </div>
          ) : (
            <table className="list runs-table">
              <thead>
                <tr>
                  <th>Run</th>
                  <th>Flow</th>
                  <th>State</th>
                  <th>Trigger</th>
                  <th>Started</th>
                  <th>Duration</th>
                  <th>Tasks</th>
                </tr>
              </thead>
              <tbody>
                {page.items.map((run) => (
                  <tr key={run.id} data-run-id={run.id}>
                    <td>
                      <Link className="mono run-link" to={`/runs/${encodeURIComponent(run.id)}`}>
                        {run.id}
                      </Link>
                      {run.attempt > 1 && <span className="muted small-text"> attempt {run.attempt}</span>}
                    </td>
                    <td>
                      <Link className="flow-name" to={`/runs?flow=${encodeURIComponent(run.flow_id)}`} title="Only this flow's runs">
                        {run.flow_id}
                      </Link>{" "}
                      <span className="muted small-text">v{run.version}</span>
                    </td>
                    <td>
                      <StateBadge state={run.state} />
                      {run.cancel_requested && isRunActive(run.state) && <span className="muted small-text"> canceling…</span>}
                    </td>
                    <td>{triggerText(run.trigger)}</td>
                    <td title={absoluteTime(run.started_at ?? run.created_at)}>{relativeTime(run.started_at ?? run.created_at)}</td>
                    <td>
                      <Elapsed start={run.started_at} end={run.finished_at} live={isRunActive(run.state)} />
                    </td>
                    <td className="small-text">{taskSummary(run.task_counts)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      )}
      {page && (cursors.length > 1 || page.next_cursor) && (
        <div className="runs-pager">
          <button type="button" className="button" disabled={cursors.length <= 1} onClick={() => setCursors((list) => list.slice(0, -1))}>
            ← Newer
          </button>
          <span className="muted small-text">Page {cursors.length}</span>
          <button
            type="button"
            className="button"
            disabled={!page.next_cursor}
            onClick={() => page.next_cursor && setCursors((list) => [...list, page.next_cursor])}
          >
            Older →
          </button>
        </div>
      )}
    </div>
  );
}
