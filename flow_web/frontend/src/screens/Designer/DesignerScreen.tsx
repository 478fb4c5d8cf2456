/**
 * The designer: palette, canvas and side panel around one store
 * (lib/designerState.ts). Saving sends the whole definition; a 422's problems
 * land on the nodes they name. Keyboard: Delete, Ctrl+C / Ctrl+V, Ctrl+Z /
 * Ctrl+Y (or Ctrl+Shift+Z), Ctrl+S. Leaving with unsaved changes asks first.
 */
import { ReactFlowProvider, useReactFlow } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useCallback, useEffect, useMemo, useReducer, useRef, useState } from "react";
import { useBlocker, useNavigate, useParams } from "react-router";
import { ApiError } from "../../api/client";
import { createFlow, getFlow, nodeTypes, saveFlow } from "../../api/flows";
import type { FlowDetail, NodeTypeInfo, NodeTypeList, VersionDetail } from "../../api/types";
import { useApi } from "../../app/services";
import { usePermissions } from "../../auth/AuthProvider";
import { ErrorBox } from "../../components/ErrorBox";
import { ConfirmDialog } from "../../components/Modal";
import { Spinner } from "../../components/Spinner";
import { useToast } from "../../components/Toasts";
import { useAsync } from "../../hooks/useAsync";
import { designerReducer, type DesignerState, initialState, isDirty, type Selection } from "../../lib/designerState";
import {
  addNode,
  autoLayout,
  type Clipboard,
  copyNodes,
  type DesignDoc,
  emptyDoc,
  fromDefinition,
  indexProblems,
  pasteNodes,
  problemsFromDetails,
  removeEdges,
  removeNodes,
  toDefinition,
} from "../../lib/flowDoc";
import { canRedo, canUndo } from "../../lib/history";
import { Canvas } from "./Canvas";
import { NodePanel } from "./NodePanel";
import { Palette } from "./Palette";
import { ParamsEditor } from "./ParamsEditor";
import { TriggersEditor } from "./TriggersEditor";
import { VersionsDialog } from "./VersionsDialog";

// Copied nodes stay available while the tab lives, also from one flow to another.
let clipboard: Clipboard | null = null;
let pasteCount = 0;

export function DesignerScreen() {
  const { flowId } = useParams();
  return (
    <ReactFlowProvider key={flowId ?? "new"}>
      <DesignerLoader flowId={flowId ?? null} />
    </ReactFlowProvider>
  );
}

function DesignerLoader({ flowId }: { flowId: string | null }) {
  const api = useApi();
  const loaded = useAsync(
    () => Promise.all([nodeTypes(api), flowId ? getFlow(api, flowId) : Promise.resolve(null)]),
    [api, flowId],
  );
  if (loaded.error) {
    return (
      <div className="page">
        <ErrorBox error={loaded.error} onRetry={loaded.reload} />
      </div>
    );
  }
  if (!loaded.data) {
    return (
      <div className="page">
        <Spinner label={flowId ? `Loading ${flowId}…` : "Loading the node types…"} />
      </div>
    );
  }
  const [types, flow] = loaded.data;
  return <Designer registry={types} flow={flow} />;
}

function isEditingText(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  return !!element?.closest?.('input, textarea, select, [contenteditable="true"], .cm-editor');
}

type SideTab = "flow" | "params" | "triggers";

function Designer({ registry, flow }: { registry: NodeTypeList; flow: FlowDetail | null }) {
  const api = useApi();
  const can = usePermissions();
  const toast = useToast();
  const navigate = useNavigate();
  const reactFlow = useReactFlow();
  const readOnly = !can.editFlows;
  const types = useMemo(() => new Map(registry.items.map((t) => [t.id, t])), [registry]);
  const [state, dispatch] = useReducer(designerReducer, null, (): DesignerState =>
    flow ? initialState(fromDefinition(flow.definition, flow.id), flow.version, true) : initialState(emptyDoc(), null, false),
  );
  const [info, setInfo] = useState<FlowDetail | null>(flow);
  const [saving, setSaving] = useState(false);
  const [running, setRunning] = useState(false);
  const [tab, setTab] = useState<SideTab>("flow");
  const [showVersions, setShowVersions] = useState(false);
  const leaving = useRef(false);

  const doc = state.history.present;
  const dirty = isDirty(state);
  const problems = useMemo(() => indexProblems(state.problems, doc), [state.problems, doc]);

  const edit = useCallback((next: DesignDoc, group?: string, select?: Selection) => {
    dispatch({ type: "edit", doc: next, group, select });
  }, []);
  const select = useCallback((selection: Selection) => dispatch({ type: "select", selection }), []);
  const refuse = useCallback((reason: string) => toast.show("error", reason), [toast]);

  // -- leaving with unsaved changes --------------------------------------------------------
  const blocker = useBlocker(({ currentLocation, nextLocation }) => dirty && !leaving.current && currentLocation.pathname !== nextLocation.pathname);
  useEffect(() => {
    if (!dirty) return;
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [dirty]);

  // -- actions ---------------------------------------------------------------------------
  const save = useCallback(async () => {
    if (readOnly || saving) return;
    setSaving(true);
    const current = state.history.present;
    const definition = toDefinition(current);
    try {
      const saved =
        current.id === null
          ? await createFlow(api, definition)
          : await saveFlow(api, current.id, definition, state.savedVersion ?? undefined);
      dispatch({ type: "saved", doc: { ...current, id: saved.id }, version: saved.version });
      if (saved.created_version === false) toast.info("No changes to save");
      else toast.success(`Saved ${saved.name} as version ${saved.version}`);
      if (current.id === null) {
        leaving.current = true;
        navigate(`/flows/${encodeURIComponent(saved.id)}`, { replace: true });
        return;
      }
      setInfo(await getFlow(api, saved.id));
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) {
        const found = problemsFromDetails(error.details);
        dispatch({ type: "problems", problems: found });
        toast.show("error", `Not saved: ${error.message}`);
        const first = found.find((p) => p.node && current.nodes.some((n) => n.id === p.node));
        if (first?.node) dispatch({ type: "select", selection: { nodes: [first.node], edges: [] } });
      } else if (error instanceof ApiError && error.status === 409) {
        toast.show("error", `Not saved: ${error.message}. Reload the flow to see the newer version.`);
      } else {
        toast.error(error, "Not saved");
      }
    } finally {
      setSaving(false);
    }
  }, [api, navigate, readOnly, saving, state.history.present, state.savedVersion, toast]);

  const run = async () => {
    if (!doc.id) return;
    if (Object.keys(doc.params).length > 0) {
      // A flow with params starts from the run form, where they are filled in.
      navigate(`/runs/new?flow=${encodeURIComponent(doc.id)}`);
      return;
    }
    setRunning(true);
    try {
      const started = await api.post<{ id: string }>("flow_automation", `/api/v1/flows/${encodeURIComponent(doc.id)}/runs`, { params: {} });
      toast.success(`Run ${started.id} started`);
      navigate(`/runs/${encodeURIComponent(started.id)}`);
    } catch (error) {
      toast.error(error, "Could not start a run");
    } finally {
      setRunning(false);
    }
  };

  const deleteSelection = useCallback(() => {
    if (readOnly) return;
    const afterEdges = removeEdges(doc, state.selection.edges);
    const next = removeNodes(afterEdges, state.selection.nodes);
    if (next !== doc) edit(next, undefined, { nodes: [], edges: [] });
  }, [doc, edit, readOnly, state.selection]);

  const copy = useCallback(() => {
    if (state.selection.nodes.length === 0) return;
    clipboard = copyNodes(doc, state.selection.nodes);
    pasteCount = 0;
    toast.info(`Copied ${clipboard.nodes.length} node(s)`);
  }, [doc, state.selection.nodes, toast]);

  const paste = useCallback(() => {
    if (readOnly || !clipboard || clipboard.nodes.length === 0) return;
    pasteCount += 1;
    const pasted = pasteNodes(doc, clipboard, { x: 40 * pasteCount, y: 40 * pasteCount });
    edit(pasted.doc, undefined, { nodes: pasted.ids, edges: [] });
  }, [doc, edit, readOnly]);

  const addAtCenter = useCallback(
    (type: NodeTypeInfo) => {
      if (readOnly) return;
      const box = document.querySelector(".canvas")?.getBoundingClientRect();
      const center = box
        ? reactFlow.screenToFlowPosition({ x: box.left + box.width / 2, y: box.top + box.height / 2 })
        : { x: 0, y: 0 };
      const offset = (doc.nodes.length % 5) * 24;
      const added = addNode(doc, type, { x: center.x - 90 + offset, y: center.y - 30 + offset });
      edit(added.doc, undefined, { nodes: [added.id], edges: [] });
    },
    [doc, edit, reactFlow, readOnly],
  );

  const layout = () => {
    edit(autoLayout(doc));
    window.setTimeout(() => void reactFlow.fitView({ padding: 0.25, duration: 200 }), 50);
  };

  const restore = (version: VersionDetail) => {
    edit(fromDefinition(version.definition, doc.id));
    setShowVersions(false);
    toast.info(`Loaded version ${version.version}; save to make it the latest`);
  };

  // -- keyboard ----------------------------------------------------------------------------
  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const mod = event.ctrlKey || event.metaKey;
      const key = event.key.toLowerCase();
      if (mod && key === "s") {
        event.preventDefault();
        void save();
        return;
      }
      if (isEditingText(event.target) || document.querySelector(".modal-backdrop")) return;
      if (mod && key === "c") return copy();
      if (readOnly) return;
      if (key === "delete" || key === "backspace") {
        event.preventDefault();
        deleteSelection();
      } else if (mod && key === "z" && !event.shiftKey) {
        event.preventDefault();
        dispatch({ type: "undo" });
      } else if (mod && (key === "y" || (key === "z" && event.shiftKey))) {
        event.preventDefault();
        dispatch({ type: "redo" });
      } else if (mod && key === "v") {
        event.preventDefault();
        paste();
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [copy, deleteSelection, paste, readOnly, save]);

  const selectedNode = state.selection.nodes.length === 1 ? doc.nodes.find((n) => n.id === state.selection.nodes[0]) : undefined;

  return (
    <div className="designer" data-testid="designer">
      <div className="designer-toolbar">
        <input
          className="flow-title"
          value={doc.name}
          aria-label="Flow name"
          disabled={readOnly}
          onChange={(event) => edit({ ...doc, name: event.target.value }, "name")}
        />
        <span className="muted small-text" data-testid="flow-version">
          {doc.id ? `${doc.id} · v${state.savedVersion ?? "?"}` : "not saved yet"}
        </span>
        {dirty && (
          <span className="unsaved" data-testid="unsaved">
            unsaved changes
          </span>
        )}
        {readOnly && <span className="state">read only</span>}
        <div className="toolbar-spacer" />
        {!readOnly && (
          <>
            <button type="button" className="button" onClick={() => dispatch({ type: "undo" })} disabled={!canUndo(state.history)} title="Undo (Ctrl+Z)">
              Undo
            </button>
            <button type="button" className="button" onClick={() => dispatch({ type: "redo" })} disabled={!canRedo(state.history)} title="Redo (Ctrl+Y)">
              Redo
            </button>
            <button type="button" className="button" onClick={layout} disabled={doc.nodes.length === 0} title="Arrange the nodes in layers">
              Auto-layout
            </button>
          </>
        )}
        {doc.id && (
          <button type="button" className="button" onClick={() => setShowVersions(true)}>
            Versions
          </button>
        )}
        {can.runFlows && doc.id && (
          <button type="button" className="button" onClick={() => void run()} disabled={dirty || running} title={dirty ? "Save first" : "Start a run of the saved version"}>
            {running ? "Starting…" : "Run"}
          </button>
        )}
        {!readOnly && (
          <button type="button" className="button primary" onClick={() => void save()} disabled={saving} title="Save (Ctrl+S)">
            {saving ? "Saving…" : "Save"}
          </button>
        )}
      </div>
      {problems.general.length > 0 && (
        <div className="error-box designer-problems" data-testid="flow-problems">
          {problems.general.map((problem, index) => (
            <div key={index}>
              <strong>{problem.field}</strong>: {problem.message}
            </div>
          ))}
        </div>
      )}
      <div className="designer-body">
        {!readOnly && <Palette types={registry.items} onAdd={addAtCenter} />}
        <Canvas
          doc={doc}
          types={types}
          selection={state.selection}
          problemsByNode={problems.byNode}
          readOnly={readOnly}
          onEdit={edit}
          onSelect={select}
          onRefuse={refuse}
        />
        {selectedNode ? (
          <NodePanel
            key={selectedNode.id}
            doc={doc}
            node={selectedNode}
            types={types}
            problems={problems.byNode.get(selectedNode.id) ?? []}
            readOnly={readOnly}
            onEdit={edit}
            onRefuse={refuse}
            onDelete={deleteSelection}
          />
        ) : (
          <aside className="side-panel" aria-label="Flow settings">
            <div className="tabs" role="tablist">
              {(["flow", "params", "triggers"] as SideTab[]).map((name) => (
                <button key={name} type="button" role="tab" aria-selected={tab === name} className={tab === name ? "tab active" : "tab"} onClick={() => setTab(name)}>
                  {name === "flow" ? "Flow" : name === "params" ? `Params (${Object.keys(doc.params).length})` : `Triggers (${doc.triggers.length})`}
                </button>
              ))}
            </div>
            {tab === "flow" && (
              <div className="flow-settings">
                <label className="field">
                  Description
                  <textarea rows={3} value={doc.description} disabled={readOnly} onChange={(e) => edit({ ...doc, description: e.target.value }, "description")} />
                </label>
                <label className="field">
                  Tags (comma-separated)
                  <input
                    value={doc.tags.join(", ")}
                    disabled={readOnly}
                    onChange={(e) => edit({ ...doc, tags: e.target.value.split(",").map((t) => t.trim()).filter(Boolean) }, "tags")}
                  />
                </label>
                <label className="field">
                  Concurrent runs at most
                  <input type="number" min={1} value={doc.concurrency} disabled={readOnly} onChange={(e) => edit({ ...doc, concurrency: Math.max(1, Number(e.target.value) || 1) }, "concurrency")} />
                </label>
                <div className="muted small-text shortcuts">
                  <strong>Keys:</strong> Delete removes the selection · Ctrl+C / Ctrl+V copy and paste nodes · Ctrl+Z / Ctrl+Y undo and redo · Ctrl+S saves.
                  Select a node to configure it.
                </div>
              </div>
            )}
            {tab === "params" && <ParamsEditor doc={doc} readOnly={readOnly} onEdit={edit} onRefuse={refuse} />}
            {tab === "triggers" && <TriggersEditor doc={doc} savedTriggers={info?.triggers ?? []} readOnly={readOnly} onEdit={edit} />}
          </aside>
        )}
      </div>
      {showVersions && doc.id && (
        <VersionsDialog flowId={doc.id} current={doc} canRestore={!readOnly} onRestore={restore} onClose={() => setShowVersions(false)} />
      )}
      {blocker.state === "blocked" && (
        <ConfirmDialog
          title="Leave without saving?"
          message={<p>This flow has changes that are not saved. They are lost if you leave.</p>}
          confirmLabel="Leave"
          danger
          onConfirm={() => blocker.proceed()}
          onCancel={() => blocker.reset()}
        />
      )}
    </div>
  );
}
