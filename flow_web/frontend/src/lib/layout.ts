/**
 * Auto-layout of a flow: a layered (Sugiyama-style) drawing from left to right.
 *
 * Each node goes to the layer one past its deepest predecessor (longest path),
 * so every edge points right. Within a layer, nodes are ordered by the mean
 * position of their neighbours in the previous layer (barycenter), a few sweeps
 * down and up, which removes most crossings of a typical pipeline. Edges that
 * close a cycle are ignored for layering (a saved flow has none; a draft may).
 */
import type { GraphEdge } from "./dag";

export interface LayoutOptions {
  nodeWidth: number;
  nodeHeight: number;
  layerGap: number;
  nodeGap: number;
  sweeps: number;
}

export interface Point {
  x: number;
  y: number;
}

const DEFAULTS: LayoutOptions = { nodeWidth: 220, nodeHeight: 90, layerGap: 90, nodeGap: 40, sweeps: 4 };

/** The layer of each node: 0 for nodes without predecessors, else 1 + the deepest predecessor's. */
export function assignLayers(nodeIds: readonly string[], edges: readonly GraphEdge[]): Map<string, number> {
  const known = new Set(nodeIds);
  const incoming = new Map<string, string[]>(nodeIds.map((id) => [id, []]));
  for (const edge of edges) {
    if (known.has(edge.source) && known.has(edge.target) && edge.source !== edge.target) {
      incoming.get(edge.target)!.push(edge.source);
    }
  }
  const layer = new Map<string, number>();
  const onStack = new Set<string>();
  const depth = (node: string): number => {
    const cached = layer.get(node);
    if (cached !== undefined) return cached;
    onStack.add(node);
    let deepest = -1;
    for (const source of incoming.get(node)!) {
      if (onStack.has(source)) continue; // a back edge of a cycle
      deepest = Math.max(deepest, depth(source));
    }
    onStack.delete(node);
    layer.set(node, deepest + 1);
    return deepest + 1;
  };
  for (const id of nodeIds) depth(id);
  return layer;
}

function orderLayers(
  layers: string[][],
  edges: readonly GraphEdge[],
  sweeps: number,
): string[][] {
  const neighbours = (node: string, direction: "in" | "out") =>
    edges.filter((e) => (direction === "in" ? e.target === node : e.source === node)).map((e) =>
      direction === "in" ? e.source : e.target,
    );
  const ordered = layers.map((layer) => [...layer]);
  for (let sweep = 0; sweep < sweeps; sweep++) {
    const downward = sweep % 2 === 0;
    const indices = ordered.map((_, i) => i);
    if (!downward) indices.reverse();
    for (const index of indices.slice(1)) {
      const reference = ordered[downward ? index - 1 : index + 1];
      const positionOf = new Map(reference.map((id, i) => [id, i]));
      const current = ordered[index];
      const score = new Map<string, number>();
      current.forEach((node, i) => {
        const linked = neighbours(node, downward ? "in" : "out").filter((n) => positionOf.has(n));
        score.set(
          node,
          linked.length > 0 ? linked.reduce((sum, n) => sum + positionOf.get(n)!, 0) / linked.length : i,
        );
      });
      current.sort((a, b) => score.get(a)! - score.get(b)! || current.indexOf(a) - current.indexOf(b));
    }
  }
  return ordered;
}

/** Top-left positions of every node, layers from left to right, each layer centred vertically on 0. */
export function layeredLayout(
  nodeIds: readonly string[],
  edges: readonly GraphEdge[],
  options: Partial<LayoutOptions> = {},
): Record<string, Point> {
  const opts = { ...DEFAULTS, ...options };
  const layerOf = assignLayers(nodeIds, edges);
  const count = Math.max(0, ...layerOf.values()) + 1;
  const layers: string[][] = Array.from({ length: nodeIds.length > 0 ? count : 0 }, () => []);
  for (const id of nodeIds) layers[layerOf.get(id)!].push(id);
  const ordered = orderLayers(layers, edges, opts.sweeps);
  const positions: Record<string, Point> = {};
  ordered.forEach((layer, layerIndex) => {
    const height = layer.length * opts.nodeHeight + (layer.length - 1) * opts.nodeGap;
    layer.forEach((id, i) => {
      positions[id] = {
        x: layerIndex * (opts.nodeWidth + opts.layerGap),
        y: Math.round(i * (opts.nodeHeight + opts.nodeGap) - height / 2),
      };
    });
  });
  return positions;
}

/** How many pairs of edges between adjacent layers cross, for the given positions. */
export function countCrossings(edges: readonly GraphEdge[], positions: Record<string, Point>): number {
  let crossings = 0;
  for (let i = 0; i < edges.length; i++) {
    for (let j = i + 1; j < edges.length; j++) {
      const a = edges[i];
      const b = edges[j];
      const [a1, a2, b1, b2] = [positions[a.source], positions[a.target], positions[b.source], positions[b.target]];
      if (!a1 || !a2 || !b1 || !b2) continue;
      if (a1.x !== b1.x || a2.x !== b2.x) continue;
      if ((a1.y - b1.y) * (a2.y - b2.y) < 0) crossings++;
    }
  }
  return crossings;
}
