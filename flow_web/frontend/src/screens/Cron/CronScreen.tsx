/**
 * Cron jobs (ecron): every job with its schedule in words, next fire time,
 * state and last execution; pause, resume, run now, edit and delete for
 * those who may change jobs.
 *
 * The next fire time is asked from ecron's preview with the job's stored
 * schedules (which carry their anchors), after the later of now and the
 * job's anchor, so it is right even long after the job was last changed.
 */
import { useEffect, useMemo, useState } from "react";
import { Link, useNavigate } from "react-router";
import { listExecutions, listJobs, previewSchedules } from "../../api/ecronJobs";
import { useApi } from "../../app/services";
import { usePagedList } from "../../hooks/usePagedList";
import { usePermissions } from "../../auth/AuthProvider";
import { ErrorBox } from "../../components/ErrorBox";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import "../../components/operations.css";
import { describeSchedule, executionStateClass, formatDuration, type Execution, type Job } from "../../lib/cronJobs";
import { absoluteTime, relativeTime } from "../../lib/time";
import { JobActions } from "./JobActions";

interface Extras {
  next?: string | null | "error";
  last?: Execution | null | "error";
}

const PARALLEL = 4;

/** Next fire time and last execution of each job, a few requests at a time. */
function useJobExtras(jobs: Job[], refresh: number): Record<string, Extras> {
  const api = useApi();
  const [extras, setExtras] = useState<Record<string, Extras>>({});
  useEffect(() => {
    const controller = new AbortController();
    const queue = [...jobs];
    const put = (id: string, change: Extras) => !controller.signal.aborted && setExtras((all) => ({ ...all, [id]: { ...all[id], ...change } }));
    const worker = async () => {
      for (let job = queue.shift(); job; job = queue.shift()) {
        const now = new Date();
        const anchor = new Date(job.anchor);
        const after = (anchor > now ? anchor : now).toISOString();
        const nextFire =
          job.state === "active"
            ? previewSchedules(api, job.schedules, { count: 1, after }, controller.signal).then(
                (times) => put(job!.id, { next: times[0] ?? null }),
                () => put(job!.id, { next: "error" }),
              )
            : Promise.resolve(put(job.id, { next: null }));
        const last = listExecutions(api, job.id, { limit: 1 }, controller.signal).then(
          (page) => put(job!.id, { last: page.items[0] ?? null }),
          () => put(job!.id, { last: "error" }),
        );
        await Promise.all([nextFire, last]);
        if (controller.signal.aborted) return;
      }
    };
    for (let i = 0; i < PARALLEL; i++) void worker();
    return () => controller.abort();
  }, [api, jobs, refresh]);
  return extras;
}

export function CronScreen() {
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const navigate = useNavigate();
  const { items: jobs, setItems: setJobs, error, loading, generation, reload, hasMore, loadMore } = usePagedList<Job>(
    (cursor) => listJobs(api, { cursor }),
    [api],
    (e) => toast.error(e, "Could not load more jobs"),
  );
  const [filter, setFilter] = useState("");


  const extras = useJobExtras(jobs ?? [], generation);


  const shown = useMemo(() => {
    const text = filter.trim().toLowerCase();
    if (!jobs || !text) return jobs ?? [];
    return jobs.filter((job) => `${job.name} ${job.description} ${Object.entries(job.labels).map(([k, v]) => `${k}=${v}`).join(" ")}`.toLowerCase().includes(text));
  }, [jobs, filter]);

  const replace = (job: Job) => setJobs((all) => (all ? all.map((j) => (j.id === job.id ? job : j)) : all));

  return (
    <div className="page" data-testid="cron-screen">
      <div className="page-head">
        <h1>Cron jobs</h1>
        <input className="search" type="search" placeholder="Filter by name, description or label" aria-label="Filter jobs" value={filter} onChange={(event) => setFilter(event.target.value)} />
        <button type="button" className="button" onClick={reload} disabled={loading}>
          {loading && jobs ? "Refreshing…" : "Refresh"}
        </button>
        {can.editCron && (
          <button type="button" className="button primary" onClick={() => navigate("/cron/new")}>
            New job
          </button>
        )}
      </div>
      {error !== null && <ErrorBox error={error} onRetry={reload} />}
      {jobs === null && loading && <Spinner label="Loading cron jobs…" />}
      {jobs !== null && (
        <div className="card table-card">
          {shown.length === 0 ? (
            <div className="empty">
              {filter ? (
                <>No job matches “{filter}”.</>
              ) : (
                <>No cron jobs yet. {can.editCron ? <Link to="/cron/new">Schedule the first one</Link> : "An editor can create one."}</>
              )}
            </div>
          ) : (
            <table className="list" aria-label="Cron jobs">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Schedule</th>
                  <th>Next fire</th>
                  <th>State</th>
                  <th>Last execution</th>
                  {can.editCron && <th className="actions">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {shown.map((job) => (
                  <tr key={job.id} data-job-id={job.id}>
                    <td>
                      <Link className="flow-name" to={`/cron/${encodeURIComponent(job.id)}`}>
                        {job.name}
                      </Link>
                      <div className="muted small-text">
                        {job.action.type === "http" ? `${job.action.method ?? "POST"} ${job.action.url}` : `Kafka → ${job.action.topic}`}
                      </div>
                    </td>
                    <td className="wrap">
                      {job.schedules.map((schedule, index) => (
                        <div key={index}>{describeSchedule(schedule)}</div>
                      ))}
                    </td>
                    <td>
                      <NextFire job={job} value={extras[job.id]?.next} />
                    </td>
                    <td>
                      <span className={`state ${job.state}`}>{job.state}</span>
                    </td>
                    <td>
                      <LastExecution value={extras[job.id]?.last} />
                    </td>
                    {can.editCron && (
                      <td className="actions">
                        <JobActions
                          job={job}
                          small
                          showEdit
                          handlers={{ onChanged: replace, onRan: reload, onDeleted: () => setJobs((all) => all?.filter((j) => j.id !== job.id) ?? null) }}
                        />
                      </td>
                    )}
                  </tr>
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

function NextFire({ job, value }: { job: Job; value: Extras["next"] }) {
  if (job.state === "paused") return <span className="muted">paused</span>;
  if (job.state === "finished") return <span className="muted">none left</span>;
  if (value === undefined) return <Spinner small />;
  if (value === "error") return <span className="muted">{absoluteTime(job.next_fire_at) || "—"}</span>;
  if (value === null) return <span className="muted">none left</span>;
  return (
    <span title={absoluteTime(value)}>
      {relativeTime(value)}
      <div className="muted small-text">{absoluteTime(value)}</div>
    </span>
  );
}

function LastExecution({ value }: { value: Extras["last"] }) {
  if (value === undefined) return <Spinner small />;
  if (value === "error") return <span className="muted">could not load</span>;
  if (value === null) return <span className="muted">never</span>;
  const when = value.fired_at ?? value.scheduled_time;
  return (
    <span title={absoluteTime(when)}>
      <span className={`state ${executionStateClass(value.status)}`}>{value.status}</span>{" "}
      <span className="muted small-text">
        {relativeTime(when)}
        {value.duration_ms !== null ? ` · ${formatDuration(value.duration_ms)}` : ""}
      </span>
    </span>
  );
}
