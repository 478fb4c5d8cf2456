import { describe, expect, it } from "vitest";
import { assignLayers, countCrossings, layeredLayout } from "./layout";

describe("layeredLayout", () => {
  it("puts each node one layer right of its deepest predecessor", () => {
    const layers = assignLayers(["a", "b", "c", "d"], [
      { source: "a", target: "b" },
      { source: "b", target: "d" },
      { source: "a", target: "d" },
      { source: "c", target: "d" },
    ]);
    expect(Object.fromEntries(layers)).toEqual({ a: 0, b: 1, c: 0, d: 2 });
  });

  it("makes every edge point right and keeps nodes apart", () => {
    const edges = [
      { source: "extract", target: "clean" },
      { source: "clean", target: "load" },
      { source: "extract", target: "audit" },
    ];
    const positions = layeredLayout(["load", "audit", "clean", "extract"], edges, { nodeWidth: 100, nodeHeight: 50 });
    for (const edge of edges) expect(positions[edge.source].x).toBeLessThan(positions[edge.target].x);
    const points = Object.values(positions).map((p) => `${p.x},${p.y}`);
    expect(new Set(points).size).toBe(4);
  });

  it("orders a layer to avoid crossings", () => {
    // a1 -> b2 and a2 -> b1 cross in input order; the barycenter sweep untangles them.
    const edges = [
      { source: "a1", target: "b2" },
      { source: "a2", target: "b1" },
    ];
    const positions = layeredLayout(["a1", "a2", "b1", "b2"], edges);
    expect(countCrossings(edges, positions)).toBe(0);
  });

  it("survives a cycle in a draft", () => {
    const positions = layeredLayout(["a", "b"], [
      { source: "a", target: "b" },
      { source: "b", target: "a" },
    ]);
    expect(Object.keys(positions).sort()).toEqual(["a", "b"]);
    expect(positions.a.x).not.toBe(positions.b.x);
  });

  it("lays out nothing for an empty flow", () => {
    expect(layeredLayout([], [])).toEqual({});
  });
});
