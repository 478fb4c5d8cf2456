/**
 * Stream pipelines: every pipeline with its source, sink and live status
 * (lag, rates in, out and dead-lettered, errors), polled while the screen
 * is open; start, stop, edit and delete for those who may change them.
 */
import { useRef, useState, type ReactNode } from "react";
import { Link, useNavigate } from "react-router";
import { listPipelines, pipelineStatus } from "../../api/streams";
import { useApi } from "../../app/services";
import { usePagedList } from "../../hooks/usePagedList";
import { usePermissions } from "../../auth/AuthProvider";
import { errorMessage } from "../../api/client";
import { ErrorBox } from "../../components/ErrorBox";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import { usePolling } from "../../hooks/usePolling";
import "../../components/operations.css";
import { formatCount, formatRate, healthClass, healthOf, totalsOf, type Pipeline, type PipelineStatus } from "../../lib/streams";
import { PipelineActions } from "./PipelineActions";

export const STATUS_POLL_MS = 3000;
const PARALLEL = 4;

type StatusEntry = PipelineStatus | { error: string };

export function StreamsScreen() {
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const navigate = useNavigate();
  const { items: pipelines, setItems: setPipelines, error, loading, reload, hasMore, loadMore } = usePagedList<Pipeline>(
    (cursor) => listPipelines(api, { cursor }),
    [api],
    (e) => toast.error(e, "Could not load more pipelines"),
  );
  const [statuses, setStatuses] = useState<Record<string, StatusEntry>>({});
  const shown = useRef<Pipeline[]>([]);
  shown.current = pipelines ?? [];


  usePolling(
    async (signal) => {
      const queue = [...shown.current];
      const work = async () => {
        for (let pipeline = queue.shift(); pipeline && !signal.aborted; pipeline = queue.shift()) {
          const id = pipeline.id;
          try {
            const status = await pipelineStatus(api, id, signal);
            setStatuses((all) => ({ ...all, [id]: status }));
          } catch (e) {
            if (!signal.aborted) setStatuses((all) => ({ ...all, [id]: { error: errorMessage(e) } }));
          }
        }
      };
      await Promise.all(Array.from({ length: PARALLEL }, work));
    },
    STATUS_POLL_MS,
    pipelines !== null && pipelines.length > 0,
  );

  const replace = (pipeline: Pipeline) => setPipelines((all) => all?.map((p) => (p.id === pipeline.id ? pipeline : p)) ?? null);

  return (
    <div className="page" data-testid="streams-screen">
      <div className="page-head">
        <h1>Streams</h1>
        <button type="button" className="button" onClick={reload} disabled={loading}>
          {loading && pipelines ? "Refreshing…" : "Refresh"}
        </button>
        {can.editStreams && (
          <button type="button" className="button primary" onClick={() => navigate("/streams/new")}>
            New pipeline
          </button>
        )}
      </div>
      {error !== null && <ErrorBox error={error} onRetry={reload} />}
      {pipelines === null && loading && <Spinner label="Loading stream pipelines…" />}
      {pipelines !== null && (
        <div className="card table-card">
          {pipelines.length === 0 ? (
            <div className="empty">
              No stream pipelines yet. {can.editStreams ? <Link to="/streams/new">Create the first one</Link> : "An editor can create one."}
            </div>
          ) : (
            <table className="list" aria-label="Stream pipelines">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Source → sink</th>
                  <th>Status</th>
                  <th className="num">Lag</th>
                  <th className="num">In</th>
                  <th className="num">Out</th>
                  <th className="num">Dead letters</th>
                  {can.editStreams && <th className="actions">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {pipelines.map((pipeline) => (
                  <PipelineRow
                    key={pipeline.id}
                    pipeline={pipeline}
                    status={statuses[pipeline.id]}
                    actions={
                      can.editStreams ? (
                        <PipelineActions pipeline={pipeline} small onChanged={replace} onDeleted={() => setPipelines((all) => all?.filter((p) => p.id !== pipeline.id) ?? null)} />
                      ) : null
                    }
                  />
                ))}
              </tbody>
            </table>
          )}
          {hasMore && (
            <div className="empty">
              <button type="button" className="button" onClick={() => void loadMore()}>
                Load more
              </button>
            </div>
          )}
        </div>
      )}
    </div>
  );
}

function PipelineRow({ pipeline, status, actions }: { pipeline: Pipeline; status: StatusEntry | undefined; actions: ReactNode }) {
  const loaded = status && !("error" in status) ? status : null;
  const { health, reason } = healthOf(pipeline.state, loaded);
  const totals = loaded ? totalsOf(loaded) : null;
  return (
    <tr data-pipeline-id={pipeline.id}>
      <td>
        <Link className="flow-name" to={`/streams/${encodeURIComponent(pipeline.id)}`}>
          {pipeline.name}
        </Link>
        <div className="muted small-text">
          {pipeline.id} · v{pipeline.version} · {pipeline.steps.length} step(s)
        </div>
      </td>
      <td className="wrap small-text">
        <code>{pipeline.source.topics.join(", ")}</code> → {pipeline.sink.type}
        {typeof pipeline.sink.topic === "string" ? <code>{pipeline.sink.topic}</code> : typeof pipeline.sink.collection === "string" ? <code>{pipeline.sink.collection}</code> : null}
      </td>
      <td className="wrap">
        {status === undefined ? (
          <Spinner small />
        ) : "error" in status ? (
          <span className="inline-error">{status.error}</span>
        ) : (
          <span title={reason}>
            <span className={`state ${healthClass(health)}`} data-testid="pipeline-health">
              {health}
            </span>
            {health === "error" && <div className="inline-error small-text">{reason}</div>}
          </span>
        )}
      </td>
      <td className="num">{loaded ? formatCount(loaded.lag) : "—"}</td>
      <td className="num">
        {loaded ? formatRate(loaded.rates.in_per_s) : "—"}
        {totals && <div className="muted small-text">{formatCount(totals.in)} total</div>}
      </td>
      <td className="num">
        {loaded ? formatRate(loaded.rates.out_per_s) : "—"}
        {totals && <div className="muted small-text">{formatCount(totals.out)} total</div>}
      </td>
      <td className="num">
        {loaded ? formatRate(loaded.rates.dead_letters_per_s) : "—"}
        {totals && <div className="muted small-text">{formatCount(totals.dead_letters)} total</div>}
      </td>
      {actions !== null && <td className="actions">{actions}</td>}
    </tr>
  );
}
