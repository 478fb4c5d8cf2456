import { describe, expect, it } from "vitest";
import { findCycle, kindsCompatible, reaches, topologicalOrder, wouldCreateCycle } from "./dag";

const chain = [
  { source: "a", target: "b" },
  { source: "b", target: "c" },
];

describe("dag", () => {
  it("matches port kinds, with any matching everything", () => {
    expect(kindsCompatible("table", "table")).toBe(true);
    expect(kindsCompatible("any", "bytes")).toBe(true);
    expect(kindsCompatible("json", "any")).toBe(true);
    expect(kindsCompatible("table", "text")).toBe(false);
  });

  it("follows edges transitively", () => {
    expect(reaches(chain, "a", "c")).toBe(true);
    expect(reaches(chain, "c", "a")).toBe(false);
  });

  it("refuses an edge that closes a cycle, or a self-loop", () => {
    expect(wouldCreateCycle(chain, "c", "a")).toBe(true);
    expect(wouldCreateCycle(chain, "b", "a")).toBe(true);
    expect(wouldCreateCycle(chain, "a", "a")).toBe(true);
    expect(wouldCreateCycle(chain, "a", "c")).toBe(false);
    expect(wouldCreateCycle(chain, "d", "a")).toBe(false);
  });

  it("finds a cycle's nodes in order", () => {
    const edges = [...chain, { source: "c", target: "b" }];
    expect(findCycle(["a", "b", "c"], edges)).toEqual(["b", "c"]);
    expect(findCycle(["a", "b", "c"], chain)).toBeNull();
  });

  it("orders nodes so that every edge points forward", () => {
    const edges = [
      { source: "load", target: "join" },
      { source: "extract", target: "load" },
      { source: "other", target: "join" },
    ];
    const order = topologicalOrder(["join", "load", "extract", "other"], edges);
    for (const edge of edges) expect(order.indexOf(edge.source)).toBeLessThan(order.indexOf(edge.target));
    expect(order).toHaveLength(4);
  });
});
