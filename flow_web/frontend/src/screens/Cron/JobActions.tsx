/** Pause, resume, run now and delete (with confirmation), shared by the job list and a job's page. */
import { useState } from "react";
import { Link } from "react-router";
import { deleteJob, pauseJob, resumeJob, runJobNow } from "../../api/ecronJobs";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { ConfirmDialog } from "../../components/Modal";
import { useToast } from "../../components/Toasts";
import type { Execution, Job } from "../../lib/cronJobs";

export interface JobActionHandlers {
  /** The job as the server answered after a pause or resume. */
  onChanged: (job: Job) => void;
  onRan?: (execution: Execution) => void;
  onDeleted: () => void;
}

export function JobActions({ job, small, showEdit, handlers }: { job: Job; small?: boolean; showEdit?: boolean; handlers: JobActionHandlers }) {
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const [busy, setBusy] = useState<string | null>(null);
  const [confirming, setConfirming] = useState(false);
  if (!can.editCron) return null;
  const size = small ? "button small" : "button";

  const act = async (name: string, work: () => Promise<void>) => {
    setBusy(name);
    try {
      await work();
    } finally {
      setBusy(null);
    }
  };
  const pauseOrResume = () =>
    act("pause", async () => {
      try {
        const changed = job.state === "paused" ? await resumeJob(api, job.id) : await pauseJob(api, job.id);
        toast.success(changed.state === "paused" ? `Paused ${job.name}` : `Resumed ${job.name}`);
        handlers.onChanged(changed);
      } catch (e) {
        toast.error(e, `Could not ${job.state === "paused" ? "resume" : "pause"} ${job.name}`);
      }
    });
  const runNow = () =>
    act("run", async () => {
      try {
        const execution = await runJobNow(api, job.id);
        toast.success(`Started ${job.name} now`);
        handlers.onRan?.(execution);
      } catch (e) {
        toast.error(e, `Could not run ${job.name}`);
      }
    });
  const remove = () =>
    act("delete", async () => {
      try {
        await deleteJob(api, job.id);
        toast.success(`Deleted ${job.name}`);
        setConfirming(false);
        handlers.onDeleted();
      } catch (e) {
        toast.error(e, `Could not delete ${job.name}`);
        setConfirming(false);
      }
    });

  return (
    <>
      {job.state !== "finished" && (
        <button type="button" className={size} onClick={() => void pauseOrResume()} disabled={busy !== null} aria-label={`${job.state === "paused" ? "Resume" : "Pause"} ${job.name}`}>
          {busy === "pause" ? "…" : job.state === "paused" ? "Resume" : "Pause"}
        </button>
      )}{" "}
      <button type="button" className={size} onClick={() => void runNow()} disabled={busy !== null} aria-label={`Run ${job.name} now`}>
        {busy === "run" ? "Starting…" : "Run now"}
      </button>{" "}
      {showEdit && (
        <>
          <Link className={size} to={`/cron/${encodeURIComponent(job.id)}/edit`} aria-label={`Edit ${job.name}`}>
            Edit
          </Link>{" "}
        </>
      )}
      <button type="button" className={size} onClick={() => setConfirming(true)} disabled={busy !== null} aria-label={`Delete ${job.name}`}>
        Delete
      </button>
      {confirming && (
        <ConfirmDialog
          title={`Delete ${job.name}?`}
          danger
          busy={busy === "delete"}
          confirmLabel="Delete"
          message={<p>The job and its whole execution history are deleted for good; executions running now finish.</p>}
          onCancel={() => setConfirming(false)}
          onConfirm={() => void remove()}
        />
      )}
    </>
  );
}
