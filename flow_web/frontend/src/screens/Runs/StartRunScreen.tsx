/**
 * Start a run: /runs/new?flow=<id> (optionally &version=<n>, and &from=<run id>
 * to start from an earlier run's params). The form has one field per param the
 * flow declares, typed as the param is; the server's 422 lands on the fields it
 * names. On success the run's live view opens.
 */
import { type FormEvent, useEffect, useMemo, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { ApiError } from "../../api/client";
import { getFlow, listFlows } from "../../api/flows";
import { getRun, startRun } from "../../api/runs";
import type { FlowDetail, FlowSummary, ParamSpec } from "../../api/types";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { ErrorBox } from "../../components/ErrorBox";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import { initialParamInputs, type ParamInputs, paramErrorsFromDetails, paramsFromInputs } from "../../lib/runParams";
import "./runs.css";

function FlowPicker() {
  const api = useApi();
  const navigate = useNavigate();
  const [query, setQuery] = useState("");
  const [flows, setFlows] = useState<FlowSummary[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    const controller = new AbortController();
    const timer = window.setTimeout(() => {
      listFlows(api, { q: query || undefined, limit: 50 })
        .then((answer) => !controller.signal.aborted && (setFlows(answer.items), setError(null)))
        .catch((e: unknown) => !controller.signal.aborted && setError(e));
    }, 200);
    return () => {
      controller.abort();
      window.clearTimeout(timer);
    };
  }, [api, query]);
  return (
    <div className="card run-start-card">
      <h2>Which flow?</h2>
      <input className="search" placeholder="Search flows" aria-label="Search flows" value={query} onChange={(e) => setQuery(e.target.value)} autoFocus />
      {error !== null && <ErrorBox error={error} />}
      {flows === null && error === null && <Spinner label="Loading flows…" />}
      {flows?.length === 0 && <p className="muted">No flow matches.</p>}
      <ul className="run-flow-choices">
        {flows?.map((flow) => (
          <li key={flow.id}>
            <button type="button" className="button ghost" onClick={() => navigate(`/runs/new?flow=${encodeURIComponent(flow.id)}`)}>
              <strong>{flow.name}</strong> <span className="muted mono">{flow.id}</span> <span className="muted">v{flow.version}</span>
            </button>
          </li>
        ))}
      </ul>
    </div>
  );
}

function ParamField({
  name,
  spec,
  value,
  error,
  onChange,
}: {
  name: string;
  spec: ParamSpec;
  value: string | boolean;
  error?: string;
  onChange: (value: string | boolean) => void;
}) {
  const id = `param-${name}`;
  const required = spec.required && (spec.default === undefined || spec.default === null);
  const common = { id, name, "aria-invalid": error ? true : undefined, "aria-describedby": error ? `${id}-error` : undefined };
  let control;
  switch (spec.type) {
    case "boolean":
      control = <input {...common} type="checkbox" checked={value === true} onChange={(e) => onChange(e.target.checked)} />;
      break;
    case "integer":
    case "number":
      control = (
        <input {...common} type="text" inputMode={spec.type === "integer" ? "numeric" : "decimal"} value={String(value)} onChange={(e) => onChange(e.target.value)} />
      );
      break;
    case "date":
      control = <input {...common} type="date" value={String(value)} onChange={(e) => onChange(e.target.value)} />;
      break;
    case "datetime":
      control = <input {...common} type="datetime-local" value={String(value)} onChange={(e) => onChange(e.target.value)} />;
      break;
    case "object":
    case "array":
      control = (
        <textarea {...common} className="mono" rows={4} value={String(value)} placeholder={spec.type === "array" ? "[ ]" : "{ }"} onChange={(e) => onChange(e.target.value)} />
      );
      break;
    default:
      control = <input {...common} type="text" value={String(value)} onChange={(e) => onChange(e.target.value)} />;
  }
  return (
    <div className={error ? "run-param has-error" : "run-param"} data-testid={id}>
      <label htmlFor={id} className="run-param-label">
        <span className="mono">{name}</span>
        {required && <span className="required">*</span>} <span className="port-kind">{spec.type}</span>
      </label>
      {control}
      {spec.description && <span className="muted small-text">{spec.description}</span>}
      {spec.default !== undefined && spec.default !== null && spec.type !== "boolean" && (
        <span className="muted small-text">default: {JSON.stringify(spec.default)}</span>
      )}
      {error && (
        <span className="field-error" id={`${id}-error`}>
          {error}
        </span>
      )}
    </div>
  );
}

export function StartRunScreen() {
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const navigate = useNavigate();
  const [search] = useSearchParams();
  const flowId = search.get("flow");
  const fromRun = search.get("from");
  const requestedVersion = search.get("version");
  const [flow, setFlow] = useState<FlowDetail | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [inputs, setInputs] = useState<ParamInputs>({});
  const [version, setVersion] = useState(requestedVersion ?? "");
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [submitError, setSubmitError] = useState<unknown>(null);
  const [starting, setStarting] = useState(false);

  useEffect(() => {
    if (!flowId) return;
    const controller = new AbortController();
    setFlow(null);
    setLoadError(null);
    const pinned = requestedVersion && /^\d+$/.test(requestedVersion) ? Number(requestedVersion) : undefined;
    Promise.all([getFlow(api, flowId, pinned), fromRun ? getRun(api, fromRun, controller.signal) : Promise.resolve(null)])
      .then(([detail, earlier]) => {
        if (controller.signal.aborted) return;
        setFlow(detail);
        setInputs(initialParamInputs(detail.definition.params ?? {}, earlier?.params ?? {}));
      })
      .catch((e: unknown) => !controller.signal.aborted && setLoadError(e));
    return () => controller.abort();
  }, [api, flowId, fromRun, requestedVersion]);

  const specs = useMemo(() => flow?.definition.params ?? {}, [flow]);
  const names = Object.keys(specs);

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    if (!flow) return;
    const { params, errors } = paramsFromInputs(specs, inputs);
    let versionNumber: number | undefined;
    if (version.trim()) {
      if (!/^\d+$/.test(version.trim()) || Number(version) < 1) errors.__version = "a version is a number from 1";
      else versionNumber = Number(version);
    }
    setFieldErrors(errors);
    setSubmitError(null);
    if (Object.keys(errors).length > 0) return;
    setStarting(true);
    try {
      const started = await startRun(api, flow.id, params, versionNumber);
      toast.success(`Run ${started.run_id} started`);
      navigate(`/runs/${encodeURIComponent(started.run_id)}`);
    } catch (e) {
      setSubmitError(e);
      if (e instanceof ApiError) setFieldErrors(paramErrorsFromDetails(e.details).byParam);
    } finally {
      setStarting(false);
    }
  };

  if (!flowId) {
    return (
      <div className="page runs-page">
        <div className="page-head">
          <h1>Start a run</h1>
          <Link className="button" to="/runs">
            Back to runs
          </Link>
        </div>
        <FlowPicker />
      </div>
    );
  }

  return (
    <div className="page runs-page">
      <div className="page-head">
        <h1>Start a run{flow ? ` of ${flow.name}` : ""}</h1>
        <Link className="button" to={`/runs?flow=${encodeURIComponent(flowId)}`}>
          Runs of this flow
        </Link>
        <Link className="button" to={`/flows/${encodeURIComponent(flowId)}`}>
          Open in designer
        </Link>
      </div>
      {loadError !== null && <ErrorBox error={loadError} />}
      {!flow && loadError === null && <Spinner label="Loading the flow…" />}
      {flow && (
        <form className="card run-start-card" onSubmit={(event) => void submit(event)} noValidate>
          <div className="run-start-flow">
            <span className="mono">{flow.id}</span>
            <span className="muted">latest version v{flow.version}</span>
            {flow.description && <span className="muted">{flow.description}</span>}
          </div>
          {fromRun && <p className="notice small-text">Params from run {fromRun}.</p>}
          <h2>Params</h2>
          {names.length === 0 ? (
            <p className="muted">This flow declares no params.</p>
          ) : (
            <div className="run-params">
              {names.map((name) => (
                <ParamField
                  key={name}
                  name={name}
                  spec={specs[name]}
                  value={inputs[name] ?? ""}
                  error={fieldErrors[name]}
                  onChange={(value) => setInputs((current) => ({ ...current, [name]: value }))}
                />
              ))}
            </div>
          )}
          <label className="field run-version">
            Version
            <input
              type="text"
              inputMode="numeric"
              value={version}
              placeholder={`latest (v${flow.version})`}
              aria-invalid={fieldErrors.__version ? true : undefined}
              onChange={(event) => setVersion(event.target.value)}
            />
            {fieldErrors.__version && <span className="field-error">{fieldErrors.__version}</span>}
          </label>
          {submitError !== null && <ErrorBox error={submitError} />}
          {!can.runFlows && <p className="notice">Your role cannot start runs (it needs the flows:run scope).</p>}
          <div className="modal-actions">
            <Link className="button" to="/runs">
              Cancel
            </Link>
            <button type="submit" className="button primary" disabled={!can.runFlows || starting}>
              {starting ? "Starting…" : "Start run"}
            </button>
          </div>
        </form>
      )}
    </div>
  );
}
