/**
 * Graph rules of a flow, checked in the browser before the server sees them:
 * a connection that would close a cycle, or join ports of different kinds, is
 * refused on the spot. The server checks the same rules on save
 * (flow_automation/flows/validation.py); these only give earlier feedback.
 */

export interface GraphEdge {
  source: string;
  target: string;
}

/** Port kinds as GET /api/v1/node-types names them; "any" matches every kind. */
export type PortKind = "table" | "json" | "text" | "bytes" | "any";

export function kindsCompatible(output: string, input: string): boolean {
  return output === "any" || input === "any" || output === input;
}

function successors(edges: readonly GraphEdge[]): Map<string, string[]> {
  const next = new Map<string, string[]>();
  for (const edge of edges) {
    const list = next.get(edge.source);
    if (list) list.push(edge.target);
    else next.set(edge.source, [edge.target]);
  }
  return next;
}

/** Whether `to` can be reached from `from` by following edges. */
export function reaches(edges: readonly GraphEdge[], from: string, to: string): boolean {
  const next = successors(edges);
  const seen = new Set<string>();
  const stack = [from];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (node === to) return true;
    if (seen.has(node)) continue;
    seen.add(node);
    for (const target of next.get(node) ?? []) stack.push(target);
  }
  return false;
}

/** Adding source -> target closes a cycle when target already reaches source (or they are one node). */
export function wouldCreateCycle(edges: readonly GraphEdge[], source: string, target: string): boolean {
  return source === target || reaches(edges, target, source);
}

/** One cycle of the graph as its nodes in order, or null when the graph is acyclic. */
export function findCycle(nodeIds: readonly string[], edges: readonly GraphEdge[]): string[] | null {
  const next = successors(edges);
  const state = new Map<string, "active" | "done">();
  const path: string[] = [];
  const visit = (node: string): string[] | null => {
    state.set(node, "active");
    path.push(node);
    for (const target of next.get(node) ?? []) {
      const seen = state.get(target);
      if (seen === "active") return path.slice(path.indexOf(target));
      if (seen === undefined) {
        const found = visit(target);
        if (found) return found;
      }
    }
    path.pop();
    state.set(node, "done");
    return null;
  };
  for (const node of nodeIds) {
    if (!state.has(node)) {
      const found = visit(node);
      if (found) return found;
    }
  }
  return null;
}

/** Nodes in an order where every edge points forward; nodes on a cycle come last, in input order. */
export function topologicalOrder(nodeIds: readonly string[], edges: readonly GraphEdge[]): string[] {
  const known = new Set(nodeIds);
  const indegree = new Map(nodeIds.map((id) => [id, 0]));
  const next = successors(edges.filter((edge) => known.has(edge.source) && known.has(edge.target)));
  for (const targets of next.values()) for (const target of targets) indegree.set(target, indegree.get(target)! + 1);
  const ready = nodeIds.filter((id) => indegree.get(id) === 0);
  const order: string[] = [];
  while (ready.length > 0) {
    const node = ready.shift()!;
    order.push(node);
    for (const target of next.get(node) ?? []) {
      const remaining = indegree.get(target)! - 1;
      indegree.set(target, remaining);
      if (remaining === 0) ready.push(target);
    }
  }
  const placed = new Set(order);
  return [...order, ...nodeIds.filter((id) => !placed.has(id))];
}
