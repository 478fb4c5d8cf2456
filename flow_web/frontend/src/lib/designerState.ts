/**
 * The designer's one store: the document with its undo history, what is
 * selected, what the server said about the last save, and what was saved
 * last (to know whether there are unsaved changes). A reducer of plain
 * values, so every transition is testable without a browser.
 */
import type { FlowProblem } from "../api/types";
import { type DesignDoc, toDefinition } from "./flowDoc";
import { createHistory, type History, record, redo, replacePresent, undo } from "./history";

export interface Selection {
  nodes: string[];
  edges: string[];
}

export interface DesignerState {
  history: History<DesignDoc>;
  /** Canonical JSON of the definition last saved or loaded; null for a flow never saved. */
  savedJson: string | null;
  savedVersion: number | null;
  selection: Selection;
  problems: FlowProblem[];
}

export type DesignerAction =
  | { type: "load"; doc: DesignDoc; version: number | null }
  | { type: "edit"; doc: DesignDoc; group?: string; select?: Selection }
  | { type: "undo" }
  | { type: "redo" }
  | { type: "select"; selection: Selection }
  | { type: "saved"; doc: DesignDoc; version: number }
  | { type: "problems"; problems: FlowProblem[] };

const NOTHING: Selection = { nodes: [], edges: [] };

/** JSON with object keys sorted, so two equal definitions always give the same text. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (item && typeof item === "object" && !Array.isArray(item)) {
      return Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return item;
  });
}

export function canonical(doc: DesignDoc): string {
  return stableStringify(toDefinition(doc));
}

export function initialState(doc: DesignDoc, version: number | null, saved: boolean): DesignerState {
  return {
    history: createHistory(doc),
    savedJson: saved ? canonical(doc) : null,
    savedVersion: version,
    selection: NOTHING,
    problems: [],
  };
}

/** Whether the document differs from what was saved last (a never-saved flow counts once it has a node). */
export function isDirty(state: DesignerState): boolean {
  const doc = state.history.present;
  if (state.savedJson === null) return doc.nodes.length > 0;
  return canonical(doc) !== state.savedJson;
}

function pruneSelection(selection: Selection, doc: DesignDoc, edgeIds?: Set<string>): Selection {
  const ids = new Set(doc.nodes.map((n) => n.id));
  const nodes = selection.nodes.filter((id) => ids.has(id));
  const edges = edgeIds ? selection.edges.filter((id) => edgeIds.has(id)) : selection.edges;
  return nodes.length === selection.nodes.length && edges.length === selection.edges.length ? selection : { nodes, edges };
}

export function designerReducer(state: DesignerState, action: DesignerAction): DesignerState {
  switch (action.type) {
    case "load":
      return initialState(action.doc, action.version, true);
    case "edit": {
      const history = record(state.history, action.doc, action.group ?? null);
      return { ...state, history, selection: action.select ?? pruneSelection(state.selection, action.doc) };
    }
    case "undo": {
      const history = undo(state.history);
      return { ...state, history, selection: pruneSelection(state.selection, history.present) };
    }
    case "redo": {
      const history = redo(state.history);
      return { ...state, history, selection: pruneSelection(state.selection, history.present) };
    }
    case "select":
      return { ...state, selection: action.selection };
    case "saved":
      return {
        ...state,
        history: replacePresent(state.history, action.doc),
        savedJson: canonical(action.doc),
        savedVersion: action.version,
        problems: [],
      };
    case "problems":
      return { ...state, problems: action.problems };
  }
}
