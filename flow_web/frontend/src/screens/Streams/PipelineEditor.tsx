/**
 * Create or edit a stream pipeline: its source (topics, consumer group,
 * start, format), its ordered steps (any type the service has), its sink,
 * and its dead-letter topic and batching. Saving shows the service's 422
 * problems on the fields they name; an existing pipeline's unsaved steps can
 * be previewed on sample messages beside the form.
 */
import { useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { ApiError } from "../../api/client";
import { createPipeline, getPipeline, replacePipeline } from "../../api/streams";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { ErrorBox } from "../../components/ErrorBox";
import { Field } from "../../components/FormField";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import "../../components/operations.css";
import { fieldProblems } from "../../lib/problems";
import {
  SINK_TYPES,
  STEP_TYPES,
  changeComponentType,
  componentToApi,
  componentType,
  formFieldOf,
  formToPipelineSpec,
  newComponent,
  newPipelineForm,
  pipelineToForm,
  type ComponentForm,
  type FieldErrors,
  type PipelineForm,
  type SourceFormat,
  type StepSpec,
} from "../../lib/streams";
import { ComponentFields } from "./ComponentFields";
import { PreviewPanel } from "./PreviewPanel";

export function PipelineEditor() {
  const { pipelineId } = useParams();
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const navigate = useNavigate();
  const [form, setForm] = useState<PipelineForm | null>(pipelineId ? null : newPipelineForm);
  const [running, setRunning] = useState(false);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [errors, setErrors] = useState<FieldErrors>({});
  const [attempted, setAttempted] = useState(false);
  const [saving, setSaving] = useState(false);
  const [newStepType, setNewStepType] = useState("filter");

  useEffect(() => {
    if (!pipelineId) return;
    let current = true;
    getPipeline(api, pipelineId)
      .then((pipeline) => {
        if (!current) return;
        setForm(pipelineToForm(pipeline));
        setRunning(pipeline.state === "running");
      })
      .catch((e: unknown) => current && setLoadError(e));
    return () => {
      current = false;
    };
  }, [api, pipelineId]);

  // The steps as edited, for the preview; null with the reason when one cannot be read yet.
  const previewSteps = useMemo((): { steps: StepSpec[] | null; error: string | null } => {
    if (!form) return { steps: null, error: null };
    const problems: FieldErrors = {};
    const steps = form.steps.map((step, index) => componentToApi(STEP_TYPES, step, problems, `steps.${index}`));
    const first = Object.entries(problems)[0];
    return first ? { steps: null, error: `${first[0]}: ${first[1]}` } : { steps, error: null };
  }, [form]);

  if (!can.editStreams) {
    return (
      <div className="page">
        <div className="notice">Your role may read stream pipelines but not change them.</div>
      </div>
    );
  }
  if (loadError) return <div className="page"><ErrorBox error={loadError} /></div>;
  if (!form) return <div className="page"><Spinner label="Loading the pipeline…" /></div>;

  const update = (change: Partial<PipelineForm>) => {
    const next = { ...form, ...change };
    setForm(next);
    if (attempted) setErrors(formToPipelineSpec(next).errors);
  };
  const setStep = (index: number, step: ComponentForm) => update({ steps: form.steps.map((s, i) => (i === index ? step : s)) });
  const moveStep = (index: number, by: number) => {
    const steps = [...form.steps];
    const [step] = steps.splice(index, 1);
    steps.splice(index + by, 0, step);
    update({ steps });
  };
  const error = (field: string) => errors[field];

  const save = async () => {
    setAttempted(true);
    const { spec, errors: problems } = formToPipelineSpec(form);
    setErrors(problems);
    if (!spec) return;
    setSaving(true);
    setSaveError(null);
    try {
      const saved = pipelineId ? await replacePipeline(api, pipelineId, spec) : await createPipeline(api, spec);
      toast.success(pipelineId ? `Saved ${saved.name} (version ${saved.version})${running ? "; the workers switch to it" : ""}` : `Created ${saved.name}`);
      navigate(`/streams/${encodeURIComponent(saved.id)}`);
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

  const sinkType = componentType(SINK_TYPES, form.sink.type);
  return (
    <div className="page" data-testid="pipeline-editor">
      <div className="detail-head">
        <h1>{pipelineId ? `Edit ${form.name || pipelineId}` : "New stream pipeline"}</h1>
        <Link className="button" to={pipelineId ? `/streams/${encodeURIComponent(pipelineId)}` : "/streams"}>
          Cancel
        </Link>
        <button type="button" className="button primary" onClick={() => void save()} disabled={saving}>
          {saving ? "Saving…" : pipelineId ? "Save" : "Create pipeline"}
        </button>
      </div>
      {saveError !== null && <ErrorBox error={saveError} />}
      {errors[""] && <div className="inline-error">{errors[""]}</div>}
      <form
        className="ops-split"
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        <div className="ops-stack">
          <section className="card form-section">
            <h2>Pipeline</h2>
            <div className="form-grid">
              <Field label="Name" error={error("name")} className="span-2">
                <input value={form.name} onChange={(event) => update({ name: event.target.value })} aria-label="Name" autoFocus={!pipelineId} />
              </Field>
              {!pipelineId && (
                <Field label="Id (optional)" error={error("id")} hint="default: from the name">
                  <input className="code-input" value={form.id} onChange={(event) => update({ id: event.target.value })} aria-label="Id" />
                </Field>
              )}
              <Field label="Description" error={error("description")} className="span-all">
                <input value={form.description} onChange={(event) => update({ description: event.target.value })} aria-label="Description" />
              </Field>
            </div>
          </section>

          <section className="card form-section">
            <h2>Source</h2>
            <div className="form-grid">
              <Field label="Topics" error={error("topics")} className="span-2" hint="comma-separated; missing ones are picked up once created">
                <input className="code-input" value={form.topics} onChange={(event) => update({ topics: event.target.value })} aria-label="Source topics" />
              </Field>
              <Field label="Consumer group (optional)" error={error("group")} hint="default: the pipeline id">
                <input className="code-input" value={form.group} onChange={(event) => update({ group: event.target.value })} aria-label="Consumer group" />
              </Field>
              <Field label="A new group starts at" error={error("start")}>
                <select value={form.start} onChange={(event) => update({ start: event.target.value as PipelineForm["start"] })} aria-label="Start">
                  <option value="earliest">the earliest message</option>
                  <option value="latest">new messages only</option>
                </select>
              </Field>
              <Field label="Message format" error={error("format")}>
                <select value={form.format} onChange={(event) => update({ format: event.target.value as SourceFormat })} aria-label="Format">
                  <option value="json">JSON</option>
                  <option value="text">text (UTF-8)</option>
                  <option value="bytes">bytes</option>
                </select>
              </Field>
            </div>
          </section>

          <section className="card form-section">
            <h2>
              Steps <span className="muted small-text">run in order; a record that fails one is dead-lettered</span>
            </h2>
            {form.steps.length === 0 && <p className="muted">No steps: messages go to the sink as they are.</p>}
            {form.steps.map((step, index) => {
              const spec = componentType(STEP_TYPES, step.type);
              return (
                <div className="sub-card" key={index} data-testid={`step-${index}`}>
                  <div className="sub-card-head">
                    <strong>{index + 1}.</strong>
                    <select value={step.type} onChange={(event) => setStep(index, changeComponentType(STEP_TYPES, step, event.target.value))} aria-label={`Type of step ${index + 1}`}>
                      {STEP_TYPES.map((type) => (
                        <option key={type.type} value={type.type}>
                          {type.title}
                        </option>
                      ))}
                    </select>
                    <input className="grow" placeholder="label (optional)" value={step.name} onChange={(event) => setStep(index, { ...step, name: event.target.value })} aria-label={`Label of step ${index + 1}`} />
                    <button type="button" className="button small ghost" disabled={index === 0} onClick={() => moveStep(index, -1)} aria-label={`Move step ${index + 1} up`}>
                      ↑
                    </button>
                    <button type="button" className="button small ghost" disabled={index === form.steps.length - 1} onClick={() => moveStep(index, 1)} aria-label={`Move step ${index + 1} down`}>
                      ↓
                    </button>
                    <button type="button" className="button small ghost" onClick={() => update({ steps: form.steps.filter((_, i) => i !== index) })} aria-label={`Remove step ${index + 1}`}>
                      Remove
                    </button>
                  </div>
                  {spec && <span className="field-hint">{spec.description}</span>}
                  {error(`steps.${index}`) && <div className="inline-error">{error(`steps.${index}`)}</div>}
                  {error(`steps.${index}.type`) && <div className="inline-error">{error(`steps.${index}.type`)}</div>}
                  <ComponentFields spec={spec} form={step} prefix={`steps.${index}`} errors={errors} onChange={(changed) => setStep(index, changed)} />
                </div>
              );
            })}
            <div className="toolbar">
              <select value={newStepType} onChange={(event) => setNewStepType(event.target.value)} aria-label="New step type">
                {STEP_TYPES.map((type) => (
                  <option key={type.type} value={type.type}>
                    {type.title}
                  </option>
                ))}
              </select>
              <button type="button" className="button small" onClick={() => update({ steps: [...form.steps, newComponent(STEP_TYPES, newStepType)] })} disabled={form.steps.length >= 100}>
                + Add step
              </button>
            </div>
          </section>

          <section className="card form-section">
            <h2>
              Sink
              <select value={form.sink.type} onChange={(event) => update({ sink: changeComponentType(SINK_TYPES, form.sink, event.target.value) })} aria-label="Sink type">
                {SINK_TYPES.map((type) => (
                  <option key={type.type} value={type.type}>
                    {type.title}
                  </option>
                ))}
              </select>
            </h2>
            {sinkType && <span className="field-hint">{sinkType.description}</span>}
            {error("sink") && <div className="inline-error">{error("sink")}</div>}
            <ComponentFields spec={sinkType} form={form.sink} prefix="sink" errors={errors} onChange={(sink) => update({ sink })} />
          </section>

          <section className="card form-section">
            <h2>Dead letters and batches</h2>
            <div className="form-grid">
              <Field label="Dead-letter topic (optional)" error={error("deadLetterTopic")} className="span-2" hint="default: dataflow.stream.<id>.dlq">
                <input className="code-input" value={form.deadLetterTopic} onChange={(event) => update({ deadLetterTopic: event.target.value })} aria-label="Dead-letter topic" />
              </Field>
              <Field label="Batch size (optional)" error={error("maxRecords")} hint="default 1000">
                <input type="number" min={1} value={form.maxRecords} onChange={(event) => update({ maxRecords: event.target.value })} aria-label="Batch size" />
              </Field>
              <Field label="Batch wait ms (optional)" error={error("maxWaitMs")} hint="default 100">
                <input type="number" min={0} value={form.maxWaitMs} onChange={(event) => update({ maxWaitMs: event.target.value })} aria-label="Batch wait" />
              </Field>
            </div>
          </section>
          <button type="submit" hidden />
        </div>
        <aside>
          {pipelineId ? (
            <PreviewPanel pipelineId={pipelineId} steps={previewSteps.steps} stepsError={previewSteps.error} />
          ) : (
            <div className="card">
              <h3>Preview on sample messages</h3>
              <p className="muted">Create the pipeline first (it stays stopped); then try its steps on sample messages before starting it.</p>
            </div>
          )}
        </aside>
      </form>
    </div>
  );
}
