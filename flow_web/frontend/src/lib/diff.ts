/**
 * What changed between two flow definitions, in the shape flow_automation's
 * GET /api/v1/flows/{id}/diff answers (flow_automation/flows/diff.py), so one
 * renderer shows both a server diff of two versions and the local diff of
 * unsaved edits against the saved version.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface FieldChange {
  field: string;
  before: Json | undefined;
  after: Json | undefined;
}

export interface FlowDiff {
  nodes: { added: string[]; removed: string[]; changed: { id: string; changes: FieldChange[] }[] };
  edges: { added: { from: string; to: string }[]; removed: { from: string; to: string }[] };
  params: FieldChange[];
  triggers: { before: Json; after: Json } | null;
  fields: FieldChange[];
  layout_changed: boolean;
}

type JsonObject = { [key: string]: Json };

function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((item, i) => deepEqual(item, b[i]));
  }
  if (isObject(a) && isObject(b)) {
    const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
    for (const key of keys) if (!deepEqual(a[key], b[key])) return false;
    return true;
  }
  return false;
}

/** Leaf-level differences of two JSON values, with dotted paths (objects recurse; arrays compare whole). */
export function changedFields(before: unknown, after: unknown, prefix = ""): FieldChange[] {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
    return keys.flatMap((key) => {
      const path = prefix ? `${prefix}.${key}` : key;
      if (!(key in before)) return [{ field: path, before: null, after: after[key] }];
      if (!(key in after)) return [{ field: path, before: before[key], after: null }];
      return changedFields(before[key], after[key], path);
    });
  }
  return deepEqual(before, after) ? [] : [{ field: prefix || "(value)", before: before as Json, after: after as Json }];
}

function nodesById(definition: JsonObject): Map<string, JsonObject> {
  const nodes = Array.isArray(definition.nodes) ? definition.nodes : [];
  return new Map(nodes.filter(isObject).map((node) => [String(node.id), node]));
}

function edgeKeys(definition: JsonObject): Set<string> {
  const edges = Array.isArray(definition.edges) ? definition.edges : [];
  return new Set(edges.filter(isObject).map((edge) => JSON.stringify([edge.from, edge.to])));
}

const STRUCTURAL = new Set(["nodes", "edges", "params", "triggers", "ui"]);

/** Accepts any definition-shaped object (a FlowDefinition, or JSON from the server). */
export function diffDefinitions(beforeDefinition: object, afterDefinition: object): FlowDiff {
  const before = beforeDefinition as JsonObject;
  const after = afterDefinition as JsonObject;
  const oldNodes = nodesById(before);
  const newNodes = nodesById(after);
  const changed = [...oldNodes.keys()]
    .filter((id) => newNodes.has(id))
    .sort()
    .map((id) => ({ id, changes: changedFields(oldNodes.get(id), newNodes.get(id)) }))
    .filter((entry) => entry.changes.length > 0);
  const oldEdges = edgeKeys(before);
  const newEdges = edgeKeys(after);
  const asEdges = (keys: string[]) =>
    keys.sort().map((key) => {
      const [from, to] = JSON.parse(key) as [string, string];
      return { from, to };
    });
  const topLevel = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((key) => !STRUCTURAL.has(key) && !deepEqual(before[key], after[key]))
    .sort();
  const triggersBefore = before.triggers ?? [];
  const triggersAfter = after.triggers ?? [];
  return {
    nodes: {
      added: [...newNodes.keys()].filter((id) => !oldNodes.has(id)).sort(),
      removed: [...oldNodes.keys()].filter((id) => !newNodes.has(id)).sort(),
      changed,
    },
    edges: {
      added: asEdges([...newEdges].filter((key) => !oldEdges.has(key))),
      removed: asEdges([...oldEdges].filter((key) => !newEdges.has(key))),
    },
    params: changedFields(before.params ?? {}, after.params ?? {}),
    triggers: deepEqual(triggersBefore, triggersAfter) ? null : { before: triggersBefore, after: triggersAfter },
    fields: topLevel.map((key) => ({ field: key, before: before[key] ?? null, after: after[key] ?? null })),
    layout_changed: !deepEqual(before.ui ?? {}, after.ui ?? {}),
  };
}

export function isEmptyDiff(diff: FlowDiff): boolean {
  return (
    diff.nodes.added.length === 0 &&
    diff.nodes.removed.length === 0 &&
    diff.nodes.changed.length === 0 &&
    diff.edges.added.length === 0 &&
    diff.edges.removed.length === 0 &&
    diff.params.length === 0 &&
    diff.triggers === null &&
    diff.fields.length === 0 &&
    !diff.layout_changed
  );
}

function short(value: Json | undefined): string {
  if (value === undefined || value === null) return "∅";
  const text = typeof value === "string" ? JSON.stringify(value) : JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export interface DiffLine {
  kind: "added" | "removed" | "changed";
  text: string;
}

/** One readable line per change, for the version history and the unsaved-changes view. */
export function describeDiff(diff: FlowDiff): DiffLine[] {
  const lines: DiffLine[] = [];
  for (const id of diff.nodes.added) lines.push({ kind: "added", text: `node ${id} added` });
  for (const id of diff.nodes.removed) lines.push({ kind: "removed", text: `node ${id} removed` });
  for (const node of diff.nodes.changed) {
    for (const change of node.changes) {
      lines.push({
        kind: "changed",
        text: `node ${node.id}: ${change.field} ${short(change.before)} → ${short(change.after)}`,
      });
    }
  }
  for (const edge of diff.edges.added) lines.push({ kind: "added", text: `edge ${edge.from} → ${edge.to} added` });
  for (const edge of diff.edges.removed) lines.push({ kind: "removed", text: `edge ${edge.from} → ${edge.to} removed` });
  for (const change of diff.params) {
    lines.push({ kind: "changed", text: `param ${change.field}: ${short(change.before)} → ${short(change.after)}` });
  }
  if (diff.triggers) lines.push({ kind: "changed", text: "triggers changed" });
  for (const change of diff.fields) {
    lines.push({ kind: "changed", text: `${change.field}: ${short(change.before)} → ${short(change.after)}` });
  }
  if (diff.layout_changed) lines.push({ kind: "changed", text: "layout changed" });
  return lines;
}
