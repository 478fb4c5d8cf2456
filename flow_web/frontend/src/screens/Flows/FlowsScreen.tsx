/**
 * Flows: every flow with its version, last run and next scheduled time;
 * search; create, duplicate, import and export as a file, delete with
 * confirmation. What a user sees follows their scopes: a viewer gets the list
 * and export only.
 */
import { useCallback, useEffect, useRef, useState } from "react";
import { Link, useNavigate } from "react-router";
import { ApiError, errorMessage } from "../../api/client";
import { previewFireTimes } from "../../api/ecron";
import { createFlow, deleteFlow, exportFlow, getFlow, importFlow, listFlows } from "../../api/flows";
import type { FlowSummary } from "../../api/types";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { saveBlob } from "../../components/download";
import { ErrorBox } from "../../components/ErrorBox";
import { ConfirmDialog } from "../../components/Modal";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import { problemsFromDetails } from "../../lib/flowDoc";
import { duplicateName } from "../../lib/naming";
import { absoluteTime, earliest, relativeTime } from "../../lib/time";

const SEARCH_DELAY_MS = 250;

interface ListState {
  items: FlowSummary[];
  nextCursor: string | null;
}

function useDebounced<T>(value: T, delay: number): T {
  const [debounced, setDebounced] = useState(value);
  useEffect(() => {
    const timer = window.setTimeout(() => setDebounced(value), delay);
    return () => window.clearTimeout(timer);
  }, [value, delay]);
  return debounced;
}

/** The next fire time of each flow's enabled cron triggers, from ecron's preview. */
function useNextFireTimes(flows: FlowSummary[], allowed: boolean): Record<string, string | null | "error"> {
  const api = useApi();
  const [times, setTimes] = useState<Record<string, string | null | "error">>({});
  useEffect(() => {
    if (!allowed) return;
    const controller = new AbortController();
    for (const flow of flows) {
      const schedules = flow.triggers
        .filter((t) => t.type === "cron" && t.cron && t.status !== "disabled")
        .map((t) => ({ cron: t.cron!, timezone: t.timezone ?? "UTC" }));
      if (schedules.length === 0) continue;
      previewFireTimes(api, schedules, 1, controller.signal)
        .then((fireTimes) => setTimes((current) => ({ ...current, [flow.id]: earliest(fireTimes) })))
        .catch((error: unknown) => {
          if (!controller.signal.aborted) setTimes((current) => ({ ...current, [flow.id]: "error" }));
          return error;
        });
    }
    return () => controller.abort();
  }, [api, flows, allowed]);
  return times;
}

export function FlowsScreen() {
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const navigate = useNavigate();
  const [search, setSearch] = useState("");
  const query = useDebounced(search.trim(), SEARCH_DELAY_MS);
  const [list, setList] = useState<ListState | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [generation, setGeneration] = useState(0);
  const [busy, setBusy] = useState<string | null>(null);
  const [confirmDelete, setConfirmDelete] = useState<{ flow: FlowSummary; activeRuns?: string[] } | null>(null);
  const fileInput = useRef<HTMLInputElement>(null);
  const reload = useCallback(() => setGeneration((g) => g + 1), []);

  useEffect(() => {
    let current = true;
    setLoading(true);
    listFlows(api, { q: query || undefined })
      .then((page) => {
        if (!current) return;
        setList({ items: page.items, nextCursor: page.next_cursor });
        setError(null);
      })
      .catch((e: unknown) => current && setError(e))
      .finally(() => current && setLoading(false));
    return () => {
      current = false;
    };
  }, [api, query, generation]);

  const loadMore = async () => {
    if (!list?.nextCursor) return;
    try {
      const page = await listFlows(api, { q: query || undefined, cursor: list.nextCursor });
      setList({ items: [...list.items, ...page.items], nextCursor: page.next_cursor });
    } catch (e) {
      toast.error(e, "Could not load more flows");
    }
  };

  const nextFire = useNextFireTimes(list?.items ?? [], can.readCron);

  const duplicate = async (flow: FlowSummary) => {
    setBusy(flow.id);
    try {
      const { definition } = await getFlow(api, flow.id);
      const taken = (list?.items ?? []).map((f) => f.id);
      const name = duplicateName(definition.name, taken);
      const { id: _id, ...rest } = definition;
      const created = await createFlow(api, { ...rest, name });
      toast.success(`Duplicated as ${created.name}`);
      reload();
    } catch (e) {
      toast.error(e, `Could not duplicate ${flow.name}`);
    } finally {
      setBusy(null);
    }
  };

  const download = async (flow: FlowSummary, format: "yaml" | "json") => {
    setBusy(flow.id);
    try {
      const file = await exportFlow(api, flow.id, format);
      saveBlob(file.blob, file.filename);
    } catch (e) {
      toast.error(e, `Could not export ${flow.name}`);
    } finally {
      setBusy(null);
    }
  };

  const upload = async (file: File) => {
    setBusy("import");
    try {
      const imported = await importFlow(api, file);
      toast.success(`Imported ${imported.name} (version ${imported.version})`);
      reload();
    } catch (e) {
      const problems = e instanceof ApiError ? problemsFromDetails(e.details) : [];
      const detail = problems
        .slice(0, 3)
        .map((p) => `${p.node ? `node ${p.node}, ` : ""}${p.field}: ${p.message}`)
        .join("\n");
      toast.show("error", `Could not import ${file.name}: ${errorMessage(e)}${detail ? `\n${detail}` : ""}`);
    } finally {
      setBusy(null);
      if (fileInput.current) fileInput.current.value = "";
    }
  };

  const remove = async (flow: FlowSummary, force: boolean) => {
    setBusy(flow.id);
    try {
      const result = await deleteFlow(api, flow.id, force);
      toast.success(
        result.canceled_runs.length > 0
          ? `Deleted ${flow.name} and canceled ${result.canceled_runs.length} run(s)`
          : `Deleted ${flow.name}`,
      );
      setConfirmDelete(null);
      reload();
    } catch (e) {
      if (e instanceof ApiError && e.status === 409) {
        const active = (e.details as { active_runs?: string[] } | undefined)?.active_runs ?? [];
        setConfirmDelete({ flow, activeRuns: active });
      } else {
        toast.error(e, `Could not delete ${flow.name}`);
        setConfirmDelete(null);
      }
    } finally {
      setBusy(null);
    }
  };

  return (
    <div className="page" data-testid="flows-screen">
      <div className="page-head">
        <h1>Flows</h1>
        <input
          className="search"
          type="search"
          placeholder="Search by name, id or description"
          aria-label="Search flows"
          value={search}
          onChange={(event) => setSearch(event.target.value)}
        />
        {can.editFlows && (
          <>
            <input
              ref={fileInput}
              type="file"
              accept=".json,.yaml,.yml,application/json,application/yaml"
              hidden
              data-testid="import-file"
              onChange={(event) => event.target.files?.[0] && void upload(event.target.files[0])}
            />
            <button type="button" className="button" onClick={() => fileInput.current?.click()} disabled={busy === "import"}>
              {busy === "import" ? "Importing…" : "Import"}
            </button>
            <button type="button" className="button primary" onClick={() => navigate("/flows/new")}>
              New flow
            </button>
          </>
        )}
      </div>
      {error !== null && <ErrorBox error={error} onRetry={reload} />}
      {list === null && loading && <Spinner label="Loading flows…" />}
      {list !== null && (
        <div className="card table-card">
          {list.items.length === 0 ? (
            <div className="empty">
              {query ? (
                <>No flow matches “{query}”.</>
              ) : (
                <>
                  No flows yet.{" "}
                  {can.editFlows ? <Link to="/flows/new">Design the first one</Link> : "An editor can create one."}
                </>
              )}
            </div>
          ) : (
            <table className="list" aria-label="Flows">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Version</th>
                  <th>Last run</th>
                  <th>Next scheduled</th>
                  <th>Updated</th>
                  <th className="actions">Actions</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((flow) => (
                  <tr key={flow.id} data-flow-id={flow.id}>
                    <td>
                      <Link className="flow-name" to={`/flows/${encodeURIComponent(flow.id)}`}>
                        {flow.name}
                      </Link>
                      <div className="muted small-text">
                        {flow.id}
                        {flow.description ? ` · ${flow.description}` : ""}
                      </div>
                    </td>
                    <td>v{flow.version}</td>
                    <td>
                      {flow.last_run ? (
                        <span title={absoluteTime(flow.last_run.finished_at)}>
                          <span className={`state ${flow.last_run.state}`}>{flow.last_run.state}</span>{" "}
                          <span className="muted small-text">{relativeTime(flow.last_run.finished_at)}</span>
                        </span>
                      ) : (
                        <span className="muted">never run</span>
                      )}
                    </td>
                    <td>
                      <NextFire flow={flow} value={nextFire[flow.id]} />
                    </td>
                    <td title={absoluteTime(flow.updated_at)}>
                      {relativeTime(flow.updated_at)}
                      {flow.updated_by && <div className="muted small-text">{flow.updated_by}</div>}
                    </td>
                    <td className="actions">
                      {busy === flow.id && <Spinner small />}{" "}
                      <Link className="button small" to={`/flows/${encodeURIComponent(flow.id)}`}>
                        {can.editFlows ? "Edit" : "View"}
                      </Link>{" "}
                      {can.editFlows && (
                        <button type="button" className="button small" onClick={() => void duplicate(flow)} disabled={busy !== null}>
                          Duplicate
                        </button>
                      )}{" "}
                      <button type="button" className="button small" onClick={() => void download(flow, "yaml")} disabled={busy !== null}>
                        Export
                      </button>{" "}
                      {can.editFlows && (
                        <button
                          type="button"
                          className="button small"
                          onClick={() => setConfirmDelete({ flow })}
                          disabled={busy !== null}
                          aria-label={`Delete ${flow.name}`}
                        >
                          Delete
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          {list.nextCursor && (
            <div className="empty">
              <button type="button" className="button" onClick={() => void loadMore()}>
                Load more
              </button>
            </div>
          )}
        </div>
      )}
      {confirmDelete && (
        <ConfirmDialog
          title={`Delete ${confirmDelete.flow.name}?`}
          danger
          busy={busy === confirmDelete.flow.id}
          confirmLabel={confirmDelete.activeRuns ? "Cancel runs and delete" : "Delete"}
          message={
            confirmDelete.activeRuns ? (
              <p>
                The flow has {confirmDelete.activeRuns.length} active run(s). Deleting it cancels them. The flow and all
                its versions are deleted for good.
              </p>
            ) : (
              <p>
                The flow <code>{confirmDelete.flow.id}</code> and all its {confirmDelete.flow.version} version(s) are deleted
                for good; its triggers stop.
              </p>
            )
          }
          onCancel={() => setConfirmDelete(null)}
          onConfirm={() => void remove(confirmDelete.flow, confirmDelete.activeRuns !== undefined)}
        />
      )}
    </div>
  );
}

function NextFire({ flow, value }: { flow: FlowSummary; value: string | null | "error" | undefined }) {
  const cron = flow.triggers.filter((t) => t.type === "cron" && t.status !== "disabled");
  if (cron.length === 0) {
    const others = flow.triggers.filter((t) => t.status !== "disabled").map((t) => t.type);
    return <span className="muted">{others.length > 0 ? others.join(", ") : "—"}</span>;
  }
  if (value === undefined) return <Spinner small />;
  if (value === "error" || value === null) return <span className="muted">{cron.map((t) => t.cron).join(", ")}</span>;
  return (
    <span title={`${absoluteTime(value)} (${cron.map((t) => t.cron).join(", ")})`}>
      {relativeTime(value)}
      <div className="muted small-text">{cron.map((t) => t.cron).join(", ")}</div>
    </span>
  );
}
