import { describe, expect, it } from "vitest";
import { changedFields, deepEqual, describeDiff, diffDefinitions, isEmptyDiff } from "./diff";

const base = {
  name: "sales",
  description: "",
  nodes: [
    { id: "extract", type: "sql.query", config: { query: "select 1" }, inputs: {} },
    { id: "clean", type: "python", config: { code: "result = 1" }, inputs: { rows: "extract.table" } },
  ],
  edges: [],
  params: { day: { type: "date" } },
  triggers: [],
  ui: { positions: { extract: { x: 0, y: 0 } } },
};

describe("diffDefinitions", () => {
  it("finds nothing between equal definitions", () => {
    const diff = diffDefinitions(base, structuredClone(base));
    expect(isEmptyDiff(diff)).toBe(true);
    expect(describeDiff(diff)).toEqual([]);
  });

  it("names added, removed and changed nodes, edges, params and fields", () => {
    const after: Record<string, unknown> = structuredClone(base);
    after.nodes = [
      { id: "clean", type: "python", config: { code: "result = 2" }, inputs: { rows: "extract.table" } },
      { id: "load", type: "noop", config: {}, inputs: {} },
    ];
    after.edges = [{ from: "clean", to: "load" }];
    after.params = { day: { type: "string" } };
    after.description = "daily";
    after.ui = { positions: { extract: { x: 10, y: 0 } } };
    const diff = diffDefinitions(base, after);
    expect(diff.nodes.added).toEqual(["load"]);
    expect(diff.nodes.removed).toEqual(["extract"]);
    expect(diff.nodes.changed).toEqual([
      { id: "clean", changes: [{ field: "config.code", before: "result = 1", after: "result = 2" }] },
    ]);
    expect(diff.edges.added).toEqual([{ from: "clean", to: "load" }]);
    expect(diff.params).toEqual([{ field: "day.type", before: "date", after: "string" }]);
    expect(diff.fields).toEqual([{ field: "description", before: "", after: "daily" }]);
    expect(diff.layout_changed).toBe(true);
    const lines = describeDiff(diff).map((l) => l.text);
    expect(lines).toContain("node load added");
    expect(lines).toContain('node clean: config.code "result = 1" → "result = 2"');
  });

  it("compares nested values deeply and arrays whole", () => {
    expect(deepEqual({ a: [1, { b: 2 }] }, { a: [1, { b: 2 }] })).toBe(true);
    expect(deepEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(changedFields({ a: { b: 1, c: 2 } }, { a: { b: 1 } })).toEqual([{ field: "a.c", before: 2, after: null }]);
  });
});
