import { Placeholder } from "../../components/Placeholder";

/** Cron jobs (ecron): list, create and edit with fire-time preview, pause, resume, run now, history. */
export function CronScreen() {
  return (
    <Placeholder title="Cron jobs">
      <p>ecron's jobs, their next fire times and execution history will be here.</p>
      <p className="muted">Meanwhile: GET /api/ecron/api/v1/jobs lists them.</p>
    </Placeholder>
  );
}
