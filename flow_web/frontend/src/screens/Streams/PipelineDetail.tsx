/**
 * One stream pipeline: live status (polled: lag per partition, rates and
 * counters per worker, the last error), a preview of its saved steps on
 * sample messages, its dead letters with replay, and its definition.
 */
import { useEffect, useState } from "react";
import { Link, useNavigate, useParams, useSearchParams } from "react-router";
import { getPipeline, pipelineStatus } from "../../api/streams";
import { useApi } from "../../app/services";
import { ErrorBox } from "../../components/ErrorBox";
import { Spinner } from "../../components/Spinner";
import { usePolling } from "../../hooks/usePolling";
import "../../components/operations.css";
import { formatCount, formatRate, healthClass, healthOf, totalsOf, type Pipeline, type PipelineStatus } from "../../lib/streams";
import { absoluteTime, relativeTime } from "../../lib/time";
import { DeadLetters } from "./DeadLetters";
import { PipelineActions } from "./PipelineActions";
import { PreviewPanel } from "./PreviewPanel";

const DETAIL_POLL_MS = 2000;
const TABS = [
  { id: "status", label: "Status" },
  { id: "preview", label: "Preview" },
  { id: "dead-letters", label: "Dead letters" },
  { id: "definition", label: "Definition" },
] as const;
type Tab = (typeof TABS)[number]["id"];

export function PipelineDetail() {
  const { pipelineId = "" } = useParams();
  const api = useApi();
  const navigate = useNavigate();
  const [search, setSearch] = useSearchParams();
  const tab = (TABS.find((t) => t.id === search.get("tab"))?.id ?? "status") as Tab;
  const [pipeline, setPipeline] = useState<Pipeline | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [status, setStatus] = useState<PipelineStatus | null>(null);
  const [statusError, setStatusError] = useState<unknown>(null);

  useEffect(() => {
    let current = true;
    getPipeline(api, pipelineId)
      .then((loaded) => current && setPipeline(loaded))
      .catch((e: unknown) => current && setError(e));
    return () => {
      current = false;
    };
  }, [api, pipelineId]);

  usePolling(
    async (signal) => {
      try {
        setStatus(await pipelineStatus(api, pipelineId, signal));
        setStatusError(null);
      } catch (e) {
        if (!signal.aborted) setStatusError(e);
      }
    },
    DETAIL_POLL_MS,
    pipeline !== null,
  );

  if (error) return <div className="page"><ErrorBox error={error} /></div>;
  if (!pipeline) return <div className="page"><Spinner label="Loading the pipeline…" /></div>;
  const { health, reason } = healthOf(pipeline.state, status);

  return (
    <div className="page" data-testid="pipeline-detail">
      <div className="detail-head">
        <h1>
          <Link to="/streams" className="crumb">
            Streams
          </Link>{" "}
          / {pipeline.name}
        </h1>
        <span className={`state ${pipeline.state === "running" ? "running" : "stopped"}`} data-testid="pipeline-state">
          {pipeline.state}
        </span>
        <PipelineActions pipeline={pipeline} onChanged={setPipeline} onDeleted={() => navigate("/streams")} />
      </div>
      <div className="tabs" role="tablist">
        {TABS.map((t) => (
          <button key={t.id} type="button" role="tab" aria-selected={tab === t.id} className={tab === t.id ? "active" : ""} onClick={() => setSearch(t.id === "status" ? {} : { tab: t.id }, { replace: true })}>
            {t.label}
          </button>
        ))}
      </div>
      {tab === "status" && (
        <StatusView pipeline={pipeline} status={status} statusError={statusError} health={health} reason={reason} />
      )}
      {tab === "preview" && (
        <div style={{ maxWidth: 760 }}>
          <PreviewPanel pipelineId={pipeline.id} />
        </div>
      )}
      {tab === "dead-letters" && <DeadLetters pipeline={pipeline} />}
      {tab === "definition" && <Definition pipeline={pipeline} />}
    </div>
  );
}

function StatusView({
  pipeline,
  status,
  statusError,
  health,
  reason,
}: {
  pipeline: Pipeline;
  status: PipelineStatus | null;
  statusError: unknown;
  health: ReturnType<typeof healthOf>["health"];
  reason: string;
}) {
  if (!status && statusError === null) return <Spinner label="Asking the workers and Kafka…" />;
  const totals = status ? totalsOf(status) : null;
  return (
    <div className="ops-stack" data-testid="pipeline-status">
      {statusError !== null && <ErrorBox error={statusError} />}
      {status && totals && (
        <>
          <div className="stats">
            <div className="stat">
              <div className="stat-value">
                <span className={`state ${healthClass(health)}`} data-testid="pipeline-health">
                  {health}
                </span>
              </div>
              <div className="stat-label">{reason}</div>
            </div>
            <Stat label="lag (messages)" value={formatCount(status.lag)} testId="stat-lag" />
            <Stat label="in" value={formatRate(status.rates.in_per_s)} sub={`${formatCount(totals.in)} total`} testId="stat-in" />
            <Stat label="out" value={formatRate(status.rates.out_per_s)} sub={`${formatCount(totals.out)} total`} testId="stat-out" />
            <Stat label="dead-lettered" value={formatRate(status.rates.dead_letters_per_s)} sub={`${formatCount(totals.dead_letters)} total`} testId="stat-dead" />
            <Stat label="version running" value={status.running_version === null ? "—" : `v${status.running_version}`} sub={`of v${status.version}`} />
          </div>
          {status.kafka_error && <div className="error-box">Kafka could not be asked for offsets: {status.kafka_error}</div>}
          {status.last_error && (
            <div className="error-box" data-testid="pipeline-last-error">
              <strong>Last error</strong> {status.last_error.stage && <code>{status.last_error.stage}</code>} {status.last_error.type}: {status.last_error.message}
              {status.last_error.at !== undefined && <span className="muted small-text">{relativeTime(new Date(status.last_error.at * 1000).toISOString())}</span>}
            </div>
          )}
          <section className="card table-card">
            <h2 style={{ padding: "12px 12px 0" }}>Workers</h2>
            {status.workers.length === 0 ? (
              <div className="empty">{pipeline.state === "running" ? "No worker has picked the pipeline up yet (python -m stream_pipeline.worker runs them)." : "No worker runs it."}</div>
            ) : (
              <table className="list" aria-label="Workers">
                <thead>
                  <tr>
                    <th>Worker</th>
                    <th>State</th>
                    <th>Version</th>
                    <th>Partitions</th>
                    <th className="num">In</th>
                    <th className="num">Out</th>
                    <th className="num">Dead</th>
                    <th>Heartbeat</th>
                  </tr>
                </thead>
                <tbody>
                  {status.workers.map((worker) => (
                    <tr key={worker.worker_id}>
                      <td>{worker.worker_id}</td>
                      <td>
                        <span className={`state ${worker.state === "running" ? "succeeded" : "running"}`}>{worker.state}</span>
                      </td>
                      <td>v{worker.version}</td>
                      <td className="small-text">{worker.partitions.map((p) => `${p.topic}[${p.partition}]`).join(", ") || "—"}</td>
                      <td className="num">
                        {formatCount(worker.totals.in)} <span className="muted small-text">{formatRate(worker.rates.in_per_s)}</span>
                      </td>
                      <td className="num">
                        {formatCount(worker.totals.out)} <span className="muted small-text">{formatRate(worker.rates.out_per_s)}</span>
                      </td>
                      <td className="num">{formatCount(worker.totals.dead_letters)}</td>
                      <td title={absoluteTime(worker.heartbeat_at)}>{relativeTime(worker.heartbeat_at)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section className="card table-card">
            <h2 style={{ padding: "12px 12px 0" }}>Partitions</h2>
            {status.partitions.length === 0 ? (
              <div className="empty">The source topics have no partitions yet (they are picked up once created).</div>
            ) : (
              <table className="list" aria-label="Partitions">
                <thead>
                  <tr>
                    <th>Topic</th>
                    <th className="num">Partition</th>
                    <th className="num">End offset</th>
                    <th className="num">Committed</th>
                    <th className="num">Lag</th>
                    <th>Worker</th>
                  </tr>
                </thead>
                <tbody>
                  {status.partitions.map((partition) => (
                    <tr key={`${partition.topic}:${partition.partition}`}>
                      <td>
                        <code>{partition.topic}</code>
                      </td>
                      <td className="num">{partition.partition}</td>
                      <td className="num">{formatCount(partition.end_offset)}</td>
                      <td className="num">{formatCount(partition.committed)}</td>
                      <td className="num">{formatCount(partition.lag)}</td>
                      <td className="small-text">{partition.worker_id ?? "—"}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
        </>
      )}
    </div>
  );
}

function Stat({ label, value, sub, testId }: { label: string; value: string; sub?: string; testId?: string }) {
  return (
    <div className="stat" data-testid={testId}>
      <div className="stat-value">{value}</div>
      <div className="stat-label">
        {label}
        {sub && <span className="stat-sub"> · {sub}</span>}
      </div>
    </div>
  );
}

function Definition({ pipeline }: { pipeline: Pipeline }) {
  return (
    <div className="ops-stack">
      <section className="card">
        <dl className="detail-grid">
          <dt>Id</dt>
          <dd>
            <code>{pipeline.id}</code> (version {pipeline.version})
          </dd>
          {pipeline.description && (
            <>
              <dt>Description</dt>
              <dd>{pipeline.description}</dd>
            </>
          )}
          <dt>Source</dt>
          <dd>
            <code>{pipeline.source.topics.join(", ")}</code> as {pipeline.source.format ?? "json"}, group <code>{pipeline.group}</code>, a new group starts at the {pipeline.source.start ?? "earliest"}
          </dd>
          <dt>Dead letters</dt>
          <dd>
            <code>{pipeline.dead_letter_topic}</code>
          </dd>
          <dt>Changed</dt>
          <dd title={absoluteTime(pipeline.updated_at)}>{relativeTime(pipeline.updated_at)}</dd>
        </dl>
      </section>
      <section className="card form-section">
        <h2>Steps and sink</h2>
        <pre className="block" style={{ maxHeight: 480 }}>
          {JSON.stringify({ steps: pipeline.steps, sink: pipeline.sink, batch: pipeline.batch }, null, 2)}
        </pre>
      </section>
    </div>
  );
}
