/**
 * Data connections (SQLAlchemy URLs, MongoDB URIs) that flows' sql.* and
 * mongo.* nodes name: list, create, edit, test and delete. The service
 * stores the URL encrypted and only ever shows it with the password masked;
 * a password typed here is sent once and not kept in the page afterwards.
 * Reading needs flows:read; changing and testing need connections:write.
 */
import { useState } from "react";
import { ApiError } from "../../api/client";
import { createConnection, deleteConnection, listConnections, replaceConnection, testConnection } from "../../api/connections";
import { useApi } from "../../app/services";
import { usePagedList } from "../../hooks/usePagedList";
import { usePermissions } from "../../auth/AuthProvider";
import { ErrorBox } from "../../components/ErrorBox";
import { Field, Segmented } from "../../components/FormField";
import { ConfirmDialog, Modal } from "../../components/Modal";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import "../../components/operations.css";
import {
  connectionToForm,
  flowsUsing,
  formFieldOf,
  formToConnectionSpec,
  hasPlainPassword,
  newConnectionForm,
  type Connection,
  type ConnectionForm,
  type ConnectionKind,
  type ConnectionTestResult,
  type FieldErrors,
} from "../../lib/connections";
import { fieldProblems } from "../../lib/problems";
import { absoluteTime, relativeTime } from "../../lib/time";

type TestState = { running: true } | { running: false; result: ConnectionTestResult; at: string } | { running: false; error: string };

export function ConnectionsScreen() {
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const { items: connections, setItems: setConnections, error, loading, reload, hasMore, loadMore } = usePagedList<Connection>(
    (cursor) => listConnections(api, { cursor }),
    [api],
    (e) => toast.error(e, "Could not load more connections"),
  );
  const [editing, setEditing] = useState<Connection | "new" | null>(null);
  const [deleting, setDeleting] = useState<{ connection: Connection; usedBy?: string[] } | null>(null);
  const [busy, setBusy] = useState(false);
  const [tests, setTests] = useState<Record<string, TestState>>({});



  const test = async (connection: Connection) => {
    setTests((all) => ({ ...all, [connection.id]: { running: true } }));
    try {
      const result = await testConnection(api, connection.id);
      setTests((all) => ({ ...all, [connection.id]: { running: false, result, at: new Date().toISOString() } }));
    } catch (e) {
      setTests((all) => ({ ...all, [connection.id]: { running: false, error: e instanceof Error ? e.message : String(e) } }));
    }
  };

  const remove = async (connection: Connection, force: boolean) => {
    setBusy(true);
    try {
      await deleteConnection(api, connection.id, force);
      toast.success(`Deleted ${connection.name}`);
      setConnections((all) => all?.filter((c) => c.id !== connection.id) ?? null);
      setDeleting(null);
    } catch (e) {
      if (e instanceof ApiError && e.status === 409 && !force) {
        // Flows use it: say which, and let the person delete it anyway.
        setDeleting({ connection, usedBy: flowsUsing(e.details) });
      } else {
        toast.error(e, `Could not delete ${connection.name}`);
        setDeleting(null);
      }
    } finally {
      setBusy(false);
    }
  };

  const saved = (connection: Connection, created: boolean) => {
    setEditing(null);
    setTests((all) => {
      const { [connection.id]: _dropped, ...rest } = all;
      return rest;
    });
    setConnections((all) => {
      if (!all) return [connection];
      return created ? [...all, connection].sort((a, b) => a.id.localeCompare(b.id)) : all.map((c) => (c.id === connection.id ? connection : c));
    });
    toast.success(`${created ? "Created" : "Saved"} ${connection.name}; its URL is stored encrypted and its password never shown again`);
  };

  return (
    <div className="page" data-testid="connections-screen">
      <div className="page-head">
        <h1>Connections</h1>
        <button type="button" className="button" onClick={reload} disabled={loading}>
          {loading && connections ? "Refreshing…" : "Refresh"}
        </button>
        {can.editConnections && (
          <button type="button" className="button primary" onClick={() => setEditing("new")}>
            New connection
          </button>
        )}
      </div>
      {error !== null && <ErrorBox error={error} onRetry={reload} />}
      {connections === null && loading && <Spinner label="Loading connections…" />}
      {connections !== null && (
        <div className="card table-card">
          {connections.length === 0 ? (
            <div className="empty">No data connections yet. {can.editConnections ? "Create one for sql.* and mongo.* nodes." : "An editor can create one."}</div>
          ) : (
            <table className="list" aria-label="Connections">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Kind</th>
                  <th>URL</th>
                  <th>Updated</th>
                  {can.editConnections && <th>Test</th>}
                  {can.editConnections && <th className="actions">Actions</th>}
                </tr>
              </thead>
              <tbody>
                {connections.map((connection) => (
                  <tr key={connection.id} data-connection-id={connection.id}>
                    <td>
                      <span className="flow-name">{connection.name}</span>
                      <div className="muted small-text">
                        <code>{connection.id}</code>
                        {connection.description ? ` · ${connection.description}` : ""}
                      </div>
                    </td>
                    <td>
                      <span className="state">{connection.kind === "mongo" ? "MongoDB" : "SQL"}</span>
                    </td>
                    <td className="wrap">
                      <code data-testid="connection-url">{connection.url}</code>
                      {connection.database && <div className="muted small-text">database {connection.database}</div>}
                    </td>
                    <td className="nowrap" title={absoluteTime(connection.updated_at)}>
                      {relativeTime(connection.updated_at)}
                    </td>
                    {can.editConnections && (
                      <td className="wrap">
                        <TestOutcome state={tests[connection.id]} />
                      </td>
                    )}
                    {can.editConnections && (
                      <td className="actions">
                        <button type="button" className="button small" onClick={() => void test(connection)} disabled={tests[connection.id]?.running === true} aria-label={`Test ${connection.name}`}>
                          {tests[connection.id]?.running ? "Testing…" : "Test"}
                        </button>{" "}
                        <button type="button" className="button small" onClick={() => setEditing(connection)} aria-label={`Edit ${connection.name}`}>
                          Edit
                        </button>{" "}
                        <button type="button" className="button small" onClick={() => setDeleting({ connection })} aria-label={`Delete ${connection.name}`}>
                          Delete
                        </button>
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
      {editing !== null && <ConnectionDialog connection={editing === "new" ? null : editing} onClose={() => setEditing(null)} onSaved={saved} />}
      {deleting && (
        <ConfirmDialog
          title={`Delete ${deleting.connection.name}?`}
          danger
          busy={busy}
          confirmLabel={deleting.usedBy ? "Delete anyway" : "Delete"}
          message={
            deleting.usedBy ? (
              <p>
                {deleting.usedBy.length} flow(s) use <code>{deleting.connection.id}</code>
                {deleting.usedBy.length > 0 && <>: {deleting.usedBy.slice(0, 10).join(", ")}{deleting.usedBy.length > 10 ? ", …" : ""}</>}. Their runs fail
                until a connection with that id exists again.
              </p>
            ) : (
              <p>
                Flows whose nodes name <code>{deleting.connection.id}</code> fail until a connection with that id exists again.
              </p>
            )
          }
          onCancel={() => setDeleting(null)}
          onConfirm={() => void remove(deleting.connection, deleting.usedBy !== undefined)}
        />
      )}
    </div>
  );
}

function TestOutcome({ state }: { state: TestState | undefined }) {
  if (!state) return <span className="muted small-text">not tested</span>;
  if (state.running) return <Spinner small label="connecting…" />;
  if ("error" in state) return <span className="test-result failed" role="alert">{state.error}</span>;
  return (
    <span className={`test-result ${state.result.ok ? "ok" : "failed"}`} data-testid="test-result" title={absoluteTime(state.at)}>
      {state.result.ok ? "✓ " : "✗ "}
      {state.result.message} <span className="muted">({Math.round(state.result.duration_ms)} ms)</span>
    </span>
  );
}

const KINDS = [
  { value: "sql", label: "SQL (SQLAlchemy)" },
  { value: "mongo", label: "MongoDB" },
] as const;

function ConnectionDialog({ connection, onClose, onSaved }: { connection: Connection | null; onClose: () => void; onSaved: (connection: Connection, created: boolean) => void }) {
  const api = useApi();
  const creating = connection === null;
  const [form, setForm] = useState<ConnectionForm>(() => (connection ? connectionToForm(connection) : newConnectionForm()));
  const [errors, setErrors] = useState<FieldErrors>({});
  const [attempted, setAttempted] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [saving, setSaving] = useState(false);

  const update = (change: Partial<ConnectionForm>) => {
    const next = { ...form, ...change };
    setForm(next);
    if (attempted) setErrors(formToConnectionSpec(next, { creating }).errors);
  };

  const save = async () => {
    setAttempted(true);
    const { spec, errors: problems } = formToConnectionSpec(form, { creating });
    setErrors(problems);
    if (!spec) return;
    setSaving(true);
    setSaveError(null);
    try {
      const answer = creating ? await createConnection(api, spec) : await replaceConnection(api, connection.id, spec);
      // The password leaves the page with the dialog; the service never gives it back.
      setForm((current) => ({ ...current, password: "" }));
      onSaved(answer, creating);
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

  const sqlExample = "postgresql+psycopg://user@host:5432/db or sqlite:////path/to/file.db";
  return (
    <Modal title={creating ? "New connection" : `Edit ${connection.name}`} onClose={onClose} wide>
      <form
        className="form-section"
        data-testid="connection-form"
        autoComplete="off"
        onSubmit={(event) => {
          event.preventDefault();
          void save();
        }}
      >
        {saveError !== null && <ErrorBox error={saveError} />}
        <Segmented label="Kind" value={form.kind} options={KINDS} onChange={(kind: ConnectionKind) => update({ kind })} />
        <div className="form-grid">
          <Field label="Name" error={errors.name} className="span-2">
            <input value={form.name} onChange={(event) => update({ name: event.target.value })} aria-label="Name" autoFocus />
          </Field>
          {creating ? (
            <Field label="Id (optional)" error={errors.id} hint="what flows call it; default from the name">
              <input className="code-input" value={form.id} onChange={(event) => update({ id: event.target.value })} aria-label="Id" />
            </Field>
          ) : (
            <Field label="Id" hint="cannot change">
              <input className="code-input" value={form.id} readOnly aria-label="Id" />
            </Field>
          )}
          <Field
            label={form.kind === "mongo" ? "MongoDB URI" : "SQLAlchemy URL"}
            error={errors.url}
            className="span-all"
            hint={
              hasPlainPassword(form.url)
                ? "The password in the URL is stored encrypted and never shown again."
                : creating
                  ? form.kind === "mongo"
                    ? "mongodb://user@host:27017/db; the password goes below"
                    : `${sqlExample}; the password goes below`
                  : "*** stands for the stored password, which is kept unless you type a new one below"
            }
          >
            <input
              className="code-input"
              value={form.url}
              onChange={(event) => update({ url: event.target.value })}
              aria-label="URL"
              placeholder={form.kind === "mongo" ? "mongodb://user@127.0.0.1:27017/db" : "postgresql+psycopg://user@127.0.0.1:5432/db"}
              spellCheck={false}
              autoComplete="off"
            />
          </Field>
          <Field label={creating ? "Password (optional)" : "New password (optional)"} error={errors.password} className="span-2" hint={creating ? "put into the URL when saved" : "leave empty to keep the stored one"}>
            <input type="password" value={form.password} onChange={(event) => update({ password: event.target.value })} aria-label="Password" autoComplete="new-password" />
          </Field>
          {form.kind === "mongo" && (
            <Field label="Database (optional)" error={errors.database} hint="when the URI names none">
              <input value={form.database} onChange={(event) => update({ database: event.target.value })} aria-label="Database" />
            </Field>
          )}
          <Field label="Description" error={errors.description} className="span-all">
            <input value={form.description} onChange={(event) => update({ description: event.target.value })} aria-label="Description" />
          </Field>
        </div>
        <div className="modal-actions">
          <button type="button" className="button" onClick={onClose} disabled={saving}>
            Cancel
          </button>
          <button type="submit" className="button primary" disabled={saving}>
            {saving ? "Saving…" : creating ? "Create" : "Save"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
