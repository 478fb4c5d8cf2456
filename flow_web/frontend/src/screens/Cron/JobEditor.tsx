/**
 * Create or edit an ecron job: its schedules (with the live preview of the
 * next fire times beside them), its action (an HTTP request or a Kafka
 * message) and its retry and misfire policies. Saving shows the server's
 * 422 reasons on the inputs they name.
 */
import { useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError } from "../../api/client";
import { createJob, getJob, replaceJob } from "../../api/ecronJobs";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { ErrorBox } from "../../components/ErrorBox";
import { Field, Segmented } from "../../components/FormField";
import { KeyValueEditor } from "../../components/KeyValueEditor";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import "../../components/operations.css";
import {
  HTTP_METHODS,
  formFieldOf,
  formToJobSpec,
  jobToForm,
  newJobForm,
  newScheduleForm,
  type ActionForm,
  type FieldErrors,
  type JobForm,
  type MisfirePolicy,
} from "../../lib/cronJobs";
import { fieldProblems } from "../../lib/problems";
import { ScheduleFields, TimeZoneList, browserTimeZone } from "./ScheduleFields";
import { SchedulePreviewPanel, useSchedulePreview } from "./SchedulePreview";

const ACTION_TYPES = [
  { value: "http", label: "HTTP request" },
  { value: "kafka", label: "Kafka message" },
] as const;

export function JobEditor() {
  const { jobId } = useParams();
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const navigate = useNavigate();
  const [form, setForm] = useState<JobForm | null>(jobId ? null : () => newJobForm(browserTimeZone()));
  const [loadError, setLoadError] = useState<unknown>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [saving, setSaving] = useState(false);
  const [attempted, setAttempted] = useState(false);

  useEffect(() => {
    if (!jobId) return;
    let current = true;
    getJob(api, jobId)
      .then((job) => current && setForm(jobToForm(job)))
      .catch((error: unknown) => current && setLoadError(error));
    return () => {
      current = false;
    };
  }, [api, jobId]);

  const preview = useSchedulePreview(form?.schedules ?? [], form !== null);

  if (!can.editCron) {
    return (
      <div className="page">
        <div className="notice">Your role may read cron jobs but not change them.</div>
      </div>
    );
  }
  if (loadError) return <div className="page"><ErrorBox error={loadError} /></div>;
  if (!form) return <div className="page"><Spinner label="Loading the job…" /></div>;

  const update = (change: Partial<JobForm>) => {
    const next = { ...form, ...change };
    setForm(next);
    if (attempted) setErrors(formToJobSpec(next).errors);
  };
  const setAction = (change: Partial<ActionForm>) => update({ action: { ...form.action, ...change } });
  const previewFields = preview.kind === "invalid" ? preview.fields : {};
  const shown: FieldErrors = { ...previewFields, ...errors };
  const error = (field: string) => shown[field];

  const save = async () => {
    setAttempted(true);
    const { spec, errors: problems } = formToJobSpec(form);
    setErrors(problems);
    if (!spec) return;
    setSaving(true);
    setSaveError(null);
    try {
      // A replacement keeps the job's paused state: the form carries it from the loaded job.
      const job = jobId ? await replaceJob(api, jobId, spec) : await createJob(api, spec);
      toast.success(jobId ? `Saved ${job.name}` : `Created ${job.name}`);
      navigate(`/cron/${encodeURIComponent(job.id)}`);
    } catch (e) {
      setSaveError(e);
      if (e instanceof ApiError) {
        const placed: FieldErrors = {};
        for (const problem of fieldProblems(e.details)) placed[formFieldOf(problem.field)] ??= problem.message;
        setErrors(placed);
      }
    } finally {
      setSaving(false);
    }
  };

  const action = form.action;
  return (
    <div className="page" data-testid="job-editor">
      <div className="detail-head">
        <h1>{jobId ? `Edit ${form.name || jobId}` : "New cron job"}</h1>
        <Link className="button" to={jobId ? `/cron/${encodeURIComponent(jobId)}` : "/cron"}>
          Cancel
        </Link>
        <button type="button" className="button primary" onClick={() => void save()} disabled={saving}>
          {saving ? "Saving…" : jobId ? "Save" : "Create job"}
        </button>
      </div>
      {saveError !== null && <ErrorBox error={saveError} />}
      <form
        className="ops-split"
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <div className="ops-stack">
          <section className="card form-section">
            <h2>Job</h2>
            <div className="form-grid">
              <Field label="Name" error={error("name")} className="span-2">
                <input value={form.name} onChange={(event) => update({ name: event.target.value })} aria-label="Name" autoFocus={!jobId} />
              </Field>
              <Field label="Description" error={error("description")} className="span-2">
                <input value={form.description} onChange={(event) => update({ description: event.target.value })} aria-label="Description" />
              </Field>
            </div>
            {!jobId && (
              <label className="toolbar">
                <input type="checkbox" checked={form.paused} onChange={(event) => update({ paused: event.target.checked })} /> Create it paused
              </label>
            )}
          </section>

          <section className="card form-section">
            <h2>
              Schedules <span className="muted small-text">fire times of all schedules are merged</span>
            </h2>
            {shown.schedules && <div className="inline-error">{shown.schedules}</div>}
            <TimeZoneList id="ecron-time-zones" />
            {form.schedules.map((schedule, index) => (
              <ScheduleFields
                key={index}
                index={index}
                schedule={schedule}
                errors={shown}
                onChange={(changed) => update({ schedules: form.schedules.map((s, i) => (i === index ? changed : s)) })}
                onRemove={form.schedules.length > 1 ? () => update({ schedules: form.schedules.filter((_, i) => i !== index) }) : undefined}
              />
            ))}
            <div>
              <button
                type="button"
                className="button small"
                onClick={() => update({ schedules: [...form.schedules, newScheduleForm(form.schedules[0]?.timezone ?? "UTC")] })}
                disabled={form.schedules.length >= 20}
              >
                + Add schedule
              </button>
            </div>
          </section>

          <section className="card form-section">
            <h2>
              Action
              <Segmented label="Action type" value={action.type} options={ACTION_TYPES} onChange={(type) => setAction({ type })} />
            </h2>
            {action.type === "http" ? (
              <div className="form-grid">
                <Field label="Method">
                  <select value={action.method} onChange={(event) => setAction({ method: event.target.value })} aria-label="Method">
                    {HTTP_METHODS.map((method) => (
                      <option key={method}>{method}</option>
                    ))}
                  </select>
                </Field>
                <Field label="URL" error={error("action.url")} className="span-2" hint="{{scheduled_time}}, {{job_id}}, {{execution_id}} are filled in">
                  <input className="code-input" value={action.url} onChange={(event) => setAction({ url: event.target.value })} aria-label="URL" placeholder="http://127.0.0.1:8081/api/v1/…" />
                </Field>
                <Field label="Authorization" hint="auto: a service token for Dataflow URLs">
                  <select value={action.auth} onChange={(event) => setAction({ auth: event.target.value as ActionForm["auth"] })} aria-label="Authorization">
                    <option value="auto">auto</option>
                    <option value="service">service token</option>
                    <option value="none">none</option>
                  </select>
                </Field>
                <Field label="Expected status" error={error("action.expectedStatus")} hint="empty: any 2xx">
                  <input value={action.expectedStatus} onChange={(event) => setAction({ expectedStatus: event.target.value })} aria-label="Expected status" placeholder="200, 202" />
                </Field>
                <Field label="Timeout (s)" error={error("action.timeout")} hint="default 30">
                  <input type="number" min={0} value={action.timeout} onChange={(event) => setAction({ timeout: event.target.value })} aria-label="Timeout" />
                </Field>
                <Field label="Body (JSON)" error={error("action.payload")} className="span-all" hint="optional; sent as JSON">
                  <textarea className="code-input" value={action.payload} onChange={(event) => setAction({ payload: event.target.value })} aria-label="Body" spellCheck={false} />
                </Field>
              </div>
            ) : (
              <div className="form-grid">
                <Field label="Topic" error={error("action.topic")} hint="must exist">
                  <input className="code-input" value={action.topic} onChange={(event) => setAction({ topic: event.target.value })} aria-label="Topic" />
                </Field>
                <Field label="Key" error={error("action.key")} hint="optional">
                  <input className="code-input" value={action.key} onChange={(event) => setAction({ key: event.target.value })} aria-label="Key" />
                </Field>
                <Field label="Timeout (s)" error={error("action.timeout")} hint="default 10">
                  <input type="number" min={0} value={action.timeout} onChange={(event) => setAction({ timeout: event.target.value })} aria-label="Timeout" />
                </Field>
                <Field label="Value (JSON)" error={error("action.payload")} className="span-all">
                  <textarea className="code-input" value={action.payload} onChange={(event) => setAction({ payload: event.target.value })} aria-label="Value" spellCheck={false} />
                </Field>
              </div>
            )}
            <div className="form-section">
              <span className="field-hint">Headers</span>
              <KeyValueEditor rows={action.headers} onChange={(headers) => setAction({ headers })} keyLabel="Header" addLabel="Header" monospace />
            </div>
          </section>

          <section className="card form-section">
            <h2>Retries and misfires</h2>
            <div className="form-grid">
              <Field label="Attempts" error={error("maxAttempts")}>
                <input type="number" min={1} max={20} value={form.maxAttempts} onChange={(event) => update({ maxAttempts: event.target.value })} aria-label="Attempts" />
              </Field>
              <Field label="First backoff (s)" error={error("backoff")}>
                <input type="number" min={0} value={form.backoff} onChange={(event) => update({ backoff: event.target.value })} aria-label="First backoff" />
              </Field>
              <Field label="Multiplier" error={error("multiplier")}>
                <input type="number" min={1} max={10} step="any" value={form.multiplier} onChange={(event) => update({ multiplier: event.target.value })} aria-label="Multiplier" />
              </Field>
              <Field label="Longest backoff (s)" error={error("maxBackoff")}>
                <input type="number" min={0} value={form.maxBackoff} onChange={(event) => update({ maxBackoff: event.target.value })} aria-label="Longest backoff" />
              </Field>
              <Field label="Running at once" error={error("maxConcurrent")}>
                <input type="number" min={1} value={form.maxConcurrent} onChange={(event) => update({ maxConcurrent: event.target.value })} aria-label="Running at once" />
              </Field>
              <Field label="Late slots" error={error("misfirePolicy")}>
                <select value={form.misfirePolicy} onChange={(event) => update({ misfirePolicy: event.target.value as MisfirePolicy })} aria-label="Late slots">
                  <option value="run_once">run the latest once</option>
                  <option value="run_all">run every one</option>
                  <option value="skip">skip them</option>
                </select>
              </Field>
              <Field label="Grace (s)" error={error("grace")} hint="later than this is late">
                <input type="number" min={0} value={form.grace} onChange={(event) => update({ grace: event.target.value })} aria-label="Grace" />
              </Field>
            </div>
            <div className="form-section">
              <span className="field-hint">Labels</span>
              <KeyValueEditor rows={form.labels} onChange={(labels) => update({ labels })} keyLabel="Label" addLabel="Label" />
            </div>
          </section>
          <button type="submit" hidden />
        </div>
        <aside>
          <SchedulePreviewPanel state={preview} />
        </aside>
      </form>
    </div>
  );
}
