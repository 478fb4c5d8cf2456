/**
 * The designer's document: a flow definition plus node positions, and every
 * edit the canvas makes to it as a pure function (add, connect, remove, rename,
 * copy, paste). The canvas draws what these return; undo/redo keeps the
 * returned values (lib/history.ts).
 *
 * Connections live where the flow definition keeps them: a data connection is
 * the target node's `inputs[name] = "<source>.<output>"`, an order-only one is
 * an entry of `edges`. Handle ids on the canvas are `out:<name>` / `in:<name>`
 * for data ports, `in:+` for "a new input" of types that take inputs under any
 * name (python, noop), and `order-out` / `order-in` for order-only edges.
 */
import type { FlowDefinition, FlowProblem, NodeSpec, NodeTypeInfo, ParamSpec, Trigger } from "../api/types";
import { type GraphEdge, kindsCompatible, wouldCreateCycle } from "./dag";
import { layeredLayout, type Point } from "./layout";

export const NODE_ID_PATTERN = /^[A-Za-z_][A-Za-z0-9_-]{0,63}$/;
export const NEW_INPUT = "+";
export const ORDER_OUT = "order-out";
export const ORDER_IN = "order-in";

export interface DesignNode extends NodeSpec {
  position: Point;
}

export interface DesignDoc {
  /** The saved flow's id; null for a flow never saved. */
  id: string | null;
  name: string;
  description: string;
  params: Record<string, ParamSpec>;
  nodes: DesignNode[];
  edges: { from: string; to: string }[];
  triggers: Trigger[];
  concurrency: number;
  tags: string[];
  /** Designer state other than positions, kept as found. */
  ui: Record<string, unknown>;
}

export type TypeIndex = ReadonlyMap<string, NodeTypeInfo>;

export interface PortView {
  name: string;
  kind: string;
  required: boolean;
  description: string;
}

export type Result = { ok: true; doc: DesignDoc } | { ok: false; reason: string };

export function emptyDoc(name = "Untitled flow"): DesignDoc {
  return { id: null, name, description: "", params: {}, nodes: [], edges: [], triggers: [], concurrency: 16, tags: [], ui: {} };
}

// -- ports -----------------------------------------------------------------------------

/** The input ports a node shows: its type's, then inputs it connects under other names. */
export function inputPorts(node: NodeSpec, type: NodeTypeInfo | undefined): PortView[] {
  const declared: PortView[] = (type?.inputs ?? []).map((p) => ({ ...p }));
  const names = new Set(declared.map((p) => p.name));
  const extra = Object.keys(node.inputs)
    .filter((name) => !names.has(name))
    .map((name) => ({ name, kind: type?.extra_inputs ?? "any", required: false, description: "" }));
  return [...declared, ...extra];
}

export function outputPorts(node: NodeSpec, type: NodeTypeInfo | undefined): PortView[] {
  const declared: PortView[] = (type?.outputs ?? []).map((p) => ({ ...p }));
  if (!type?.outputs_mirror_inputs) return declared;
  const names = new Set(declared.map((p) => p.name));
  const mirrored = Object.keys(node.inputs)
    .filter((name) => !names.has(name))
    .map((name) => ({ name, kind: type.extra_inputs ?? "any", required: false, description: "passed through" }));
  return [...declared, ...mirrored];
}

export function parseReference(reference: string): { source: string; name: string } | null {
  const match = /^([A-Za-z_][A-Za-z0-9_-]{0,63})\.([A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/.exec(reference);
  return match ? { source: match[1], name: match[2] } : null;
}

// -- graph views ---------------------------------------------------------------------

export interface DocEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle: string;
  targetHandle: string;
  order: boolean;
}

/** Every connection as a canvas edge (inputs bound to params are not edges). */
export function docEdges(doc: DesignDoc): DocEdge[] {
  const ids = new Set(doc.nodes.map((n) => n.id));
  const edges: DocEdge[] = [];
  for (const node of doc.nodes) {
    for (const [input, reference] of Object.entries(node.inputs)) {
      const parsed = parseReference(reference);
      if (!parsed || parsed.source === "params" || !ids.has(parsed.source)) continue;
      edges.push({
        id: dataEdgeId(parsed.source, parsed.name, node.id, input),
        source: parsed.source,
        target: node.id,
        sourceHandle: `out:${parsed.name}`,
        targetHandle: `in:${input}`,
        order: false,
      });
    }
  }
  for (const edge of doc.edges) {
    edges.push({
      id: orderEdgeId(edge.from, edge.to),
      source: edge.from,
      target: edge.to,
      sourceHandle: ORDER_OUT,
      targetHandle: ORDER_IN,
      order: true,
    });
  }
  return edges;
}

export function dataEdgeId(source: string, output: string, target: string, input: string): string {
  return `data|${source}|${output}|${target}|${input}`;
}

export function orderEdgeId(from: string, to: string): string {
  return `order|${from}|${to}`;
}

export function graphEdges(doc: DesignDoc): GraphEdge[] {
  return docEdges(doc).map(({ source, target }) => ({ source, target }));
}

// -- ids -----------------------------------------------------------------------------

/** `transform.filter` -> `filter_1`, `python` -> `python_2`: the first free id for a new node. */
export function uniqueNodeId(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  const stem = (base.split(".").pop() ?? "node").replace(/[^A-Za-z0-9_-]/g, "_").replace(/^[^A-Za-z_]/, "n_") || "node";
  for (let i = 1; ; i++) {
    const candidate = `${stem}_${i}`;
    if (!used.has(candidate)) return candidate;
  }
}

function uniqueName(base: string, taken: Iterable<string>): string {
  const used = new Set(taken);
  if (!used.has(base)) return base;
  for (let i = 2; ; i++) if (!used.has(`${base}_${i}`)) return `${base}_${i}`;
}

// -- edits ---------------------------------------------------------------------------

export function addNode(doc: DesignDoc, type: NodeTypeInfo, position: Point): { doc: DesignDoc; id: string } {
  const id = uniqueNodeId(type.id, doc.nodes.map((n) => n.id));
  const node: DesignNode = { id, type: type.id, config: {}, inputs: {}, position: roundPoint(position) };
  return { doc: { ...doc, nodes: [...doc.nodes, node] }, id };
}

function roundPoint(point: Point): Point {
  return { x: Math.round(point.x), y: Math.round(point.y) };
}

export interface Connection {
  source: string;
  sourceHandle: string | null;
  target: string;
  targetHandle: string | null;
}

/** The document with the connection made, or why it is refused (kinds differ, a cycle, unknown port). */
export function connect(doc: DesignDoc, types: TypeIndex, connection: Connection): Result {
  const { source, target } = connection;
  const sourceNode = doc.nodes.find((n) => n.id === source);
  const targetNode = doc.nodes.find((n) => n.id === target);
  if (!sourceNode || !targetNode) return { ok: false, reason: "Both ends of a connection must be nodes of this flow" };
  const sourceHandle = connection.sourceHandle ?? "";
  const targetHandle = connection.targetHandle ?? "";
  const orderEnds = [sourceHandle === ORDER_OUT, targetHandle === ORDER_IN];
  if (orderEnds[0] !== orderEnds[1]) {
    return { ok: false, reason: "An order-only handle connects only to another order-only handle" };
  }
  if (source === target) return { ok: false, reason: `Refused: node ${source} cannot depend on itself` };
  if (wouldCreateCycle(graphEdges(doc), source, target)) {
    return { ok: false, reason: `Refused: ${source} → ${target} would create a cycle (${target} already leads to ${source})` };
  }
  if (orderEnds[0]) {
    if (doc.edges.some((e) => e.from === source && e.to === target)) return { ok: false, reason: "These nodes are already ordered" };
    return { ok: true, doc: { ...doc, edges: [...doc.edges, { from: source, to: target }] } };
  }
  if (!sourceHandle.startsWith("out:") || !targetHandle.startsWith("in:")) {
    return { ok: false, reason: "Connect an output (right side) to an input (left side)" };
  }
  const output = sourceHandle.slice(4);
  const sourceType = types.get(sourceNode.type);
  const targetType = types.get(targetNode.type);
  const outputPort = outputPorts(sourceNode, sourceType).find((p) => p.name === output);
  if (!outputPort) return { ok: false, reason: `Node ${source} has no output ${output}` };
  let input = targetHandle.slice(3);
  let inputKind: string;
  if (input === NEW_INPUT) {
    if (!targetType?.extra_inputs) return { ok: false, reason: `${targetNode.type} takes no further inputs` };
    input = uniqueName(output === "result" || output === "table" ? source : output, inputPorts(targetNode, targetType).map((p) => p.name));
    inputKind = targetType.extra_inputs;
  } else {
    const port = inputPorts(targetNode, targetType).find((p) => p.name === input);
    if (!port) return { ok: false, reason: `Node ${target} has no input ${input}` };
    inputKind = port.kind;
  }
  if (!kindsCompatible(outputPort.kind, inputKind)) {
    return {
      ok: false,
      reason: `Refused: output ${source}.${output} is ${outputPort.kind} but input ${target}.${input} takes ${inputKind}`,
    };
  }
  const nodes = doc.nodes.map((n) =>
    n.id === target ? { ...n, inputs: { ...n.inputs, [input]: `${source}.${output}` } } : n,
  );
  return { ok: true, doc: { ...doc, nodes } };
}

/** Remove canvas edges by id (data edges unbind the target's input; order edges leave `edges`). */
export function removeEdges(doc: DesignDoc, edgeIds: Iterable<string>): DesignDoc {
  const ids = new Set(edgeIds);
  if (ids.size === 0) return doc;
  const nodes = doc.nodes.map((node) => {
    const inputs = Object.fromEntries(
      Object.entries(node.inputs).filter(([input, reference]) => {
        const parsed = parseReference(reference);
        return !parsed || !ids.has(dataEdgeId(parsed.source, parsed.name, node.id, input));
      }),
    );
    return Object.keys(inputs).length === Object.keys(node.inputs).length ? node : { ...node, inputs };
  });
  const edges = doc.edges.filter((e) => !ids.has(orderEdgeId(e.from, e.to)));
  return { ...doc, nodes, edges };
}

/** Remove nodes with every connection to them. */
export function removeNodes(doc: DesignDoc, nodeIds: Iterable<string>): DesignDoc {
  const ids = new Set(nodeIds);
  if (ids.size === 0) return doc;
  const nodes = doc.nodes
    .filter((n) => !ids.has(n.id))
    .map((node) => {
      const inputs = Object.fromEntries(
        Object.entries(node.inputs).filter(([, reference]) => !ids.has(parseReference(reference)?.source ?? "")),
      );
      return Object.keys(inputs).length === Object.keys(node.inputs).length ? node : { ...node, inputs };
    });
  const edges = doc.edges.filter((e) => !ids.has(e.from) && !ids.has(e.to));
  return { ...doc, nodes, edges };
}

export function renameNode(doc: DesignDoc, from: string, to: string): Result {
  if (from === to) return { ok: true, doc };
  if (!NODE_ID_PATTERN.test(to)) {
    return { ok: false, reason: "A node id starts with a letter or _, then letters, digits, _ or - (at most 64)" };
  }
  if (to === "params") return { ok: false, reason: "'params' is reserved for flow params" };
  if (doc.nodes.some((n) => n.id === to)) return { ok: false, reason: `There is already a node ${to}` };
  const rewrite = (reference: string) => {
    const parsed = parseReference(reference);
    return parsed && parsed.source === from ? `${to}.${parsed.name}` : reference;
  };
  const nodes = doc.nodes.map((node) => ({
    ...node,
    id: node.id === from ? to : node.id,
    inputs: Object.fromEntries(Object.entries(node.inputs).map(([k, v]) => [k, rewrite(v)])),
  }));
  const edges = doc.edges.map((e) => ({ from: e.from === from ? to : e.from, to: e.to === from ? to : e.to }));
  return { ok: true, doc: { ...doc, nodes, edges } };
}

export function updateNode(doc: DesignDoc, nodeId: string, change: Partial<Omit<DesignNode, "id">>): DesignDoc {
  return { ...doc, nodes: doc.nodes.map((n) => (n.id === nodeId ? { ...n, ...change } : n)) };
}

export function moveNodes(doc: DesignDoc, positions: Record<string, Point>): DesignDoc {
  return {
    ...doc,
    nodes: doc.nodes.map((n) => (positions[n.id] ? { ...n, position: roundPoint(positions[n.id]) } : n)),
  };
}

export function autoLayout(doc: DesignDoc): DesignDoc {
  return moveNodes(doc, layeredLayout(doc.nodes.map((n) => n.id), graphEdges(doc)));
}

// -- clipboard -----------------------------------------------------------------------

export interface Clipboard {
  nodes: DesignNode[];
  edges: { from: string; to: string }[];
}

export function copyNodes(doc: DesignDoc, nodeIds: Iterable<string>): Clipboard {
  const ids = new Set(nodeIds);
  return {
    nodes: doc.nodes.filter((n) => ids.has(n.id)),
    edges: doc.edges.filter((e) => ids.has(e.from) && ids.has(e.to)),
  };
}

/**
 * Paste copies under fresh ids, moved by `offset`. Connections among the copies
 * follow them; a connection from a node outside the copy is kept while that
 * node exists in the flow.
 */
export function pasteNodes(doc: DesignDoc, clipboard: Clipboard, offset: Point): { doc: DesignDoc; ids: string[] } {
  const taken = new Set(doc.nodes.map((n) => n.id));
  const renamed = new Map<string, string>();
  for (const node of clipboard.nodes) {
    const id = uniqueNodeId(node.id.replace(/_\d+$/, ""), taken);
    taken.add(id);
    renamed.set(node.id, id);
  }
  const nodes = clipboard.nodes.map((node) => ({
    ...node,
    id: renamed.get(node.id)!,
    position: { x: node.position.x + offset.x, y: node.position.y + offset.y },
    inputs: Object.fromEntries(
      Object.entries(node.inputs).flatMap(([input, reference]) => {
        const parsed = parseReference(reference);
        if (!parsed || parsed.source === "params") return [[input, reference]];
        if (renamed.has(parsed.source)) return [[input, `${renamed.get(parsed.source)}.${parsed.name}`]];
        return doc.nodes.some((n) => n.id === parsed.source) ? [[input, reference]] : [];
      }),
    ),
  }));
  const edges = clipboard.edges.map((e) => ({ from: renamed.get(e.from)!, to: renamed.get(e.to)! }));
  return { doc: { ...doc, nodes: [...doc.nodes, ...nodes], edges: [...doc.edges, ...edges] }, ids: nodes.map((n) => n.id) };
}

// -- to and from the flow definition ---------------------------------------------------

export function toDefinition(doc: DesignDoc): FlowDefinition {
  const positions = Object.fromEntries(doc.nodes.map((n) => [n.id, { x: n.position.x, y: n.position.y }]));
  const definition: FlowDefinition = {
    name: doc.name,
    description: doc.description,
    params: doc.params,
    nodes: doc.nodes.map(({ position: _position, ...node }) => {
      const spec: NodeSpec = { id: node.id, type: node.type, config: node.config, inputs: node.inputs };
      if (node.title) spec.title = node.title;
      if (node.retries !== undefined) spec.retries = node.retries;
      if (node.retry_backoff_s !== undefined) spec.retry_backoff_s = node.retry_backoff_s;
      if (node.timeout_s !== undefined && node.timeout_s !== null) spec.timeout_s = node.timeout_s;
      if (node.cache !== undefined) spec.cache = node.cache;
      return spec;
    }),
    edges: doc.edges,
    triggers: doc.triggers,
    concurrency: doc.concurrency,
    tags: doc.tags,
    ui: { ...doc.ui, positions },
  };
  if (doc.id) definition.id = doc.id;
  return definition;
}

function positionsOf(ui: Record<string, unknown> | undefined): Record<string, Point> {
  const raw = ui?.positions;
  if (typeof raw !== "object" || raw === null) return {};
  const positions: Record<string, Point> = {};
  for (const [id, value] of Object.entries(raw as Record<string, unknown>)) {
    const point = value as Partial<Point> | null;
    if (point && typeof point.x === "number" && typeof point.y === "number") positions[id] = { x: point.x, y: point.y };
  }
  return positions;
}

/** The designer's document for a definition; nodes without a stored position are laid out. */
export function fromDefinition(definition: FlowDefinition, flowId: string | null): DesignDoc {
  const stored = positionsOf(definition.ui);
  const specs = definition.nodes ?? [];
  const missing = specs.some((n) => !stored[n.id]);
  let doc: DesignDoc = {
    id: flowId,
    name: definition.name,
    description: definition.description ?? "",
    params: definition.params ?? {},
    nodes: specs.map((spec) => {
      const node: DesignNode = {
        id: spec.id,
        type: spec.type,
        config: spec.config ?? {},
        inputs: spec.inputs ?? {},
        position: stored[spec.id] ?? { x: 0, y: 0 },
      };
      if (spec.title) node.title = spec.title;
      if (spec.retries !== undefined && spec.retries !== 0) node.retries = spec.retries;
      if (spec.retry_backoff_s !== undefined && spec.retry_backoff_s !== 1) node.retry_backoff_s = spec.retry_backoff_s;
      if (spec.timeout_s !== undefined && spec.timeout_s !== null) node.timeout_s = spec.timeout_s;
      if (spec.cache) node.cache = spec.cache;
      return node;
    }),
    edges: definition.edges ?? [],
    triggers: definition.triggers ?? [],
    concurrency: definition.concurrency ?? 16,
    tags: definition.tags ?? [],
    ui: Object.fromEntries(Object.entries(definition.ui ?? {}).filter(([key]) => key !== "positions")),
  };
  if (missing) doc = autoLayout(doc);
  return doc;
}

// -- server problems -------------------------------------------------------------------

export interface ProblemIndex {
  byNode: Map<string, FlowProblem[]>;
  general: FlowProblem[];
}

/** A 422's `details.errors`, grouped by the node they name (the rest concern the whole flow). */
export function indexProblems(problems: readonly FlowProblem[], doc: DesignDoc): ProblemIndex {
  const ids = new Set(doc.nodes.map((n) => n.id));
  const byNode = new Map<string, FlowProblem[]>();
  const general: FlowProblem[] = [];
  for (const problem of problems) {
    if (problem.node && ids.has(problem.node)) {
      const list = byNode.get(problem.node) ?? [];
      list.push(problem);
      byNode.set(problem.node, list);
      for (const other of problem.cycle ?? []) {
        if (other !== problem.node && ids.has(other) && !byNode.has(other)) byNode.set(other, [problem]);
      }
    } else {
      general.push(problem);
    }
  }
  return { byNode, general };
}

/** Pull `details.errors` out of an error body's details, whatever else it holds. */
export function problemsFromDetails(details: unknown): FlowProblem[] {
  const errors = (details as { errors?: unknown } | null)?.errors ?? details;
  if (!Array.isArray(errors)) return [];
  return errors
    .filter((e): e is Record<string, unknown> => typeof e === "object" && e !== null && "message" in e)
    .map((e) => ({
      node: typeof e.node === "string" ? e.node : null,
      field: String(e.field ?? ""),
      message: String(e.message),
      ...(Array.isArray(e.cycle) ? { cycle: e.cycle.map(String) } : {}),
    }));
}

// -- comparing with stored versions ------------------------------------------------------

const TRIGGER_DEFAULTS: Record<string, Record<string, unknown>> = {
  cron: { timezone: "UTC", params: {}, enabled: true },
  webhook: { enabled: true },
  kafka: { group: null, dedupe_key: null, params: {}, enabled: true },
};

/**
 * A definition with every default the server fills in made explicit (as a
 * stored version has them), so a stored version and the design open now
 * compare by meaning, not by which defaults each happens to spell out.
 */
export function normalizeDefinition(definition: FlowDefinition): FlowDefinition {
  return {
    ...definition,
    description: definition.description ?? "",
    params: Object.fromEntries(
      Object.entries(definition.params ?? {}).map(([name, spec]) => [
        name,
        { type: spec.type ?? "string", default: spec.default ?? null, required: spec.required ?? false, description: spec.description ?? "" },
      ]),
    ),
    nodes: (definition.nodes ?? []).map((node) => ({
      id: node.id,
      type: node.type,
      title: node.title ?? null,
      config: node.config ?? {},
      inputs: node.inputs ?? {},
      retries: node.retries ?? 0,
      retry_backoff_s: node.retry_backoff_s ?? 1,
      timeout_s: node.timeout_s ?? null,
      cache: node.cache ?? false,
    })),
    edges: definition.edges ?? [],
    triggers: (definition.triggers ?? []).map((trigger) => ({ ...TRIGGER_DEFAULTS[trigger.type], ...trigger }) as Trigger),
    concurrency: definition.concurrency ?? 16,
    tags: definition.tags ?? [],
    ui: definition.ui ?? {},
  };
}
