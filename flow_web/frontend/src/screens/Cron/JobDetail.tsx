/**
 * One cron job: its definition, its next fire times, the actions on it, and
 * its execution history (newest first, a page at a time; the first page
 * refreshes itself while an execution is under way or after "Run now").
 */
import { Fragment, useCallback, useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { getJob, listExecutions, previewSchedules } from "../../api/ecronJobs";
import type { Page } from "../../api/types";
import { useApi } from "../../app/services";
import { ErrorBox } from "../../components/ErrorBox";
import { Spinner } from "../../components/Spinner";
import { usePolling } from "../../hooks/usePolling";
import "../../components/operations.css";
import {
  ACTIVE_EXECUTION_STATES,
  describeSchedule,
  executionStateClass,
  formatDuration,
  responseSummary,
  type Execution,
  type Job,
} from "../../lib/cronJobs";
import { absoluteTime, relativeTime } from "../../lib/time";
import { JobActions } from "./JobActions";
import { FireTimesList } from "./SchedulePreview";

const PAGE_SIZE = 20;
const REFRESH_MS = 2000;
const QUIET_REFRESH_MS = 10_000;

export function JobDetail() {
  const { jobId = "" } = useParams();
  const api = useApi();
  const navigate = useNavigate();
  const [job, setJob] = useState<Job | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [nextTimes, setNextTimes] = useState<string[] | null | "error">(null);
  const [ranAt, setRanAt] = useState(0);

  useEffect(() => {
    let current = true;
    setJob(null);
    getJob(api, jobId)
      .then((loaded) => current && setJob(loaded))
      .catch((e: unknown) => current && setError(e));
    return () => {
      current = false;
    };
  }, [api, jobId]);

  useEffect(() => {
    if (!job) return;
    if (job.state !== "active") {
      setNextTimes([]);
      return;
    }
    const controller = new AbortController();
    const anchor = new Date(job.anchor);
    const after = (anchor > new Date() ? anchor : new Date()).toISOString();
    previewSchedules(api, job.schedules, { count: 5, after }, controller.signal)
      .then(setNextTimes)
      .catch(() => !controller.signal.aborted && setNextTimes("error"));
    return () => controller.abort();
  }, [api, job]);

  if (error) return <div className="page"><ErrorBox error={error} /></div>;
  if (!job) return <div className="page"><Spinner label="Loading the job…" /></div>;

  return (
    <div className="page" data-testid="job-detail">
      <div className="detail-head">
        <h1>
          <Link to="/cron" className="crumb">
            Cron jobs
          </Link>{" "}
          / {job.name}
        </h1>
        <span className={`state ${job.state}`} data-testid="job-state">
          {job.state}
        </span>
        <JobActions job={job} showEdit handlers={{ onChanged: setJob, onRan: () => setRanAt(Date.now()), onDeleted: () => navigate("/cron") }} />
      </div>
      <div className="ops-split">
        <div className="ops-stack">
          <section className="card">
            <dl className="detail-grid">
              {job.description && (
                <>
                  <dt>Description</dt>
                  <dd>{job.description}</dd>
                </>
              )}
              <dt>Schedule</dt>
              <dd>
                {job.schedules.map((schedule, index) => (
                  <div key={index}>
                    {describeSchedule(schedule)}
                    {schedule.jitter_s ? <span className="muted"> · jitter {schedule.jitter_s} s</span> : null}
                    {schedule.end_date ? <span className="muted"> · until {schedule.end_date}</span> : null}
                  </div>
                ))}
              </dd>
              <dt>Action</dt>
              <dd>
                <code>{job.action.type === "http" ? `${job.action.method ?? "POST"} ${job.action.url}` : `Kafka topic ${job.action.topic}`}</code>
              </dd>
              <dt>Retries</dt>
              <dd>
                {job.retry.max_attempts} attempts, backoff {job.retry.backoff_s} s × {job.retry.multiplier} up to {job.retry.max_backoff_s} s
              </dd>
              <dt>Late slots</dt>
              <dd>
                {job.misfire.policy.replace("_", " ")} after {job.misfire.grace_s} s · at most {job.max_concurrent} running
              </dd>
              {Object.keys(job.labels).length > 0 && (
                <>
                  <dt>Labels</dt>
                  <dd>
                    {Object.entries(job.labels).map(([key, value]) => (
                      <code key={key}>
                        {key}={value}
                      </code>
                    ))}
                  </dd>
                </>
              )}
              <dt>Changed</dt>
              <dd title={absoluteTime(job.updated_at)}>
                {relativeTime(job.updated_at)} (revision {job.revision})
              </dd>
            </dl>
          </section>
          <ExecutionHistory jobId={job.id} ranAt={ranAt} />
        </div>
        <aside>
          <div className="card">
            <h3>Next fire times</h3>
            {job.state === "paused" ? (
              <p className="muted">Paused: nothing fires until it is resumed (missed slots are not replayed).</p>
            ) : nextTimes === null ? (
              <Spinner small />
            ) : nextTimes === "error" ? (
              <p className="muted">Could not ask ecron.</p>
            ) : (
              <FireTimesList times={nextTimes} />
            )}
          </div>
        </aside>
      </div>
    </div>
  );
}

function ExecutionHistory({ jobId, ranAt }: { jobId: string; ranAt: number }) {
  const api = useApi();
  // cursors[i] is the cursor of page i (null for the first page).
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const [page, setPage] = useState<Page<Execution> | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [expanded, setExpanded] = useState<string | null>(null);
  const cursor = cursors[cursors.length - 1];
  const onFirstPage = cursors.length === 1;

  const load = useCallback(
    async (signal?: AbortSignal) => {
      try {
        const loaded = await listExecutions(api, jobId, { cursor, limit: PAGE_SIZE }, signal);
        setPage(loaded);
        setError(null);
      } catch (e) {
        if (!signal?.aborted) setError(e);
      }
    },
    [api, jobId, cursor],
  );

  useEffect(() => {
    setPage(null);
    void load();
  }, [load]);

  // After "Run now", and while an execution is under way, the first page refreshes quickly; otherwise slowly.
  useEffect(() => {
    if (ranAt && onFirstPage) void load();
  }, [ranAt]);
  const busy = page?.items.some((item) => ACTIVE_EXECUTION_STATES.includes(item.status)) ?? false;
  const fast = busy || Date.now() - ranAt < 30_000;
  usePolling((signal) => load(signal), fast ? REFRESH_MS : QUIET_REFRESH_MS, onFirstPage && page !== null, false);

  return (
    <section className="card table-card" data-testid="executions">
      <div className="toolbar" style={{ padding: "12px 12px 0" }}>
        <h2 className="grow">Execution history</h2>
        <button type="button" className="button small" onClick={() => void load()}>
          Refresh
        </button>
      </div>
      {error !== null && <ErrorBox error={error} onRetry={() => void load()} />}
      {page === null && error === null && (
        <div className="empty">
          <Spinner label="Loading executions…" />
        </div>
      )}
      {page !== null && page.items.length === 0 && <div className="empty">No executions yet.</div>}
      {page !== null && page.items.length > 0 && (
        <table className="list" aria-label="Executions">
          <thead>
            <tr>
              <th>Scheduled</th>
              <th>Fired</th>
              <th>Node</th>
              <th className="num">Attempt</th>
              <th>Status</th>
              <th className="num">Duration</th>
              <th>Response</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((execution) => (
              <Fragment key={execution.id}>
                <tr
                  className={expanded === execution.id ? "expanded" : undefined}
                  onClick={() => setExpanded(expanded === execution.id ? null : execution.id)}
                  style={{ cursor: "pointer" }}
                  data-execution-id={execution.id}
                >
                  <td title={absoluteTime(execution.scheduled_time)}>
                    {execution.trigger === "manual" ? <span className="state queued">manual</span> : absoluteTime(execution.scheduled_time)}
                  </td>
                  <td title={absoluteTime(execution.fired_at)}>{execution.fired_at ? relativeTime(execution.fired_at) : "—"}</td>
                  <td className="small-text">{execution.node ?? "—"}</td>
                  <td className="num">{execution.attempt}</td>
                  <td>
                    <span className={`state ${executionStateClass(execution.status)}`}>{execution.status}</span>
                  </td>
                  <td className="num">{formatDuration(execution.duration_ms)}</td>
                  <td className="wrap small-text">{responseSummary(execution)}</td>
                </tr>
                {expanded === execution.id && (
                  <tr className="expanded">
                    <td colSpan={7}>
                      <ExecutionDetail execution={execution} />
                    </td>
                  </tr>
                )}
              </Fragment>
            ))}
          </tbody>
        </table>
      )}
      <div className="pager">
        <span className="muted small-text">page {cursors.length}</span>
        <button type="button" className="button small" disabled={onFirstPage} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button type="button" className="button small" disabled={!page?.next_cursor} onClick={() => page?.next_cursor && setCursors([...cursors, page.next_cursor])}>
          Older
        </button>
      </div>
    </section>
  );
}

function ExecutionDetail({ execution }: { execution: Execution }) {
  return (
    <dl className="detail-grid">
      <dt>Execution</dt>
      <dd>
        <code>{execution.id}</code>
      </dd>
      <dt>Scheduled · fire time</dt>
      <dd>
        {absoluteTime(execution.scheduled_time)} · {absoluteTime(execution.fire_time)}
      </dd>
      <dt>Fired · finished</dt>
      <dd>
        {absoluteTime(execution.fired_at) || "—"} · {absoluteTime(execution.finished_at) || "—"}
      </dd>
      {execution.takeovers > 0 && (
        <>
          <dt>Takeovers</dt>
          <dd>{execution.takeovers}</dd>
        </>
      )}
      {execution.misfire && (
        <>
          <dt>Misfire</dt>
          <dd>{execution.misfire}</dd>
        </>
      )}
      {execution.error && (
        <>
          <dt>Error</dt>
          <dd className="inline-error">{execution.error}</dd>
        </>
      )}
      {execution.attempt_errors.length > 0 && (
        <>
          <dt>Failed attempts</dt>
          <dd>
            <ol>
              {execution.attempt_errors.map((message, index) => (
                <li key={index}>{message}</li>
              ))}
            </ol>
          </dd>
        </>
      )}
      {execution.response && (
        <>
          <dt>Response</dt>
          <dd>
            <pre className="block">{JSON.stringify(execution.response, null, 2)}</pre>
          </dd>
        </>
      )}
    </dl>
  );
}
