import { describe, expect, it } from "vitest";
import type { NodeTypeInfo } from "../api/types";
import {
  addNode,
  connect,
  copyNodes,
  docEdges,
  emptyDoc,
  fromDefinition,
  indexProblems,
  normalizeDefinition,
  pasteNodes,
  problemsFromDetails,
  removeEdges,
  removeNodes,
  renameNode,
  toDefinition,
  uniqueNodeId,
  type DesignDoc,
} from "./flowDoc";

const port = (name: string, kind: string, required = true) => ({ name, kind, description: "", required, conditional: false });
const type = (id: string, inputs: ReturnType<typeof port>[], outputs: ReturnType<typeof port>[], extra: string | null = null): NodeTypeInfo => ({
  id,
  title: id,
  category: "Test",
  description: "",
  inputs,
  outputs,
  extra_inputs: extra,
  outputs_mirror_inputs: id === "noop",
  config_schema: {},
});

const TYPES = new Map(
  [
    type("sql.query", [], [port("table", "table")]),
    type("transform.filter", [port("table", "table")], [port("table", "table")]),
    type("python", [], [port("result", "any"), port("stdout", "text")], "any"),
    type("document.extract", [port("file", "bytes")], [port("text", "text")]),
    type("noop", [], [], "any"),
  ].map((t) => [t.id, t]),
);

function build(): DesignDoc {
  let doc = emptyDoc("test");
  for (const [typeId, x] of [["sql.query", 0], ["transform.filter", 200], ["python", 400]] as const) {
    doc = addNode(doc, TYPES.get(typeId)!, { x, y: 0 }).doc;
  }
  return doc;
}

function mustConnect(doc: DesignDoc, source: string, out: string, target: string, input: string): DesignDoc {
  const result = connect(doc, TYPES, { source, sourceHandle: `out:${out}`, target, targetHandle: `in:${input}` });
  if (!result.ok) throw new Error(result.reason);
  return result.doc;
}

describe("flowDoc", () => {
  it("gives new nodes the first free id from their type", () => {
    expect(uniqueNodeId("transform.filter", ["filter_1"])).toBe("filter_2");
    expect(build().nodes.map((n) => n.id)).toEqual(["query_1", "filter_1", "python_1"]);
  });

  it("connects compatible ports into the target's inputs", () => {
    let doc = mustConnect(build(), "query_1", "table", "filter_1", "table");
    doc = mustConnect(doc, "filter_1", "table", "python_1", "+");
    expect(doc.nodes[1].inputs).toEqual({ table: "query_1.table" });
    expect(doc.nodes[2].inputs).toEqual({ filter_1: "filter_1.table" });
    expect(docEdges(doc).map((e) => e.id)).toEqual([
      "data|query_1|table|filter_1|table",
      "data|filter_1|table|python_1|filter_1",
    ]);
  });

  it("refuses ports of different kinds", () => {
    let doc = addNode(build(), TYPES.get("document.extract")!, { x: 0, y: 200 }).doc;
    const result = connect(doc, TYPES, { source: "query_1", sourceHandle: "out:table", target: "extract_1", targetHandle: "in:file" });
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toContain("is table but input extract_1.file takes bytes");
    doc = mustConnect(doc, "python_1", "result", "extract_1", "file");
    expect(doc.nodes[3].inputs.file).toBe("python_1.result");
  });

  it("refuses a connection that closes a cycle", () => {
    let doc = mustConnect(build(), "query_1", "table", "filter_1", "table");
    doc = mustConnect(doc, "filter_1", "table", "python_1", "+");
    const back = connect(doc, TYPES, { source: "python_1", sourceHandle: "order-out", target: "query_1", targetHandle: "order-in" });
    expect(back.ok).toBe(false);
    expect(!back.ok && back.reason).toContain("cycle");
    const self = connect(doc, TYPES, { source: "python_1", sourceHandle: "out:result", target: "python_1", targetHandle: "in:+" });
    expect(self.ok).toBe(false);
  });

  it("refuses to join an order handle with a data port, and inputs a type does not have", () => {
    const doc = build();
    expect(connect(doc, TYPES, { source: "query_1", sourceHandle: "order-out", target: "filter_1", targetHandle: "in:table" }).ok).toBe(false);
    expect(connect(doc, TYPES, { source: "query_1", sourceHandle: "out:table", target: "filter_1", targetHandle: "in:+" }).ok).toBe(false);
    const ordered = connect(doc, TYPES, { source: "query_1", sourceHandle: "order-out", target: "python_1", targetHandle: "order-in" });
    expect(ordered.ok && ordered.doc.edges).toEqual([{ from: "query_1", to: "python_1" }]);
  });

  it("removes edges and nodes with the references to them", () => {
    let doc = mustConnect(build(), "query_1", "table", "filter_1", "table");
    doc = mustConnect(doc, "filter_1", "table", "python_1", "+");
    expect(removeEdges(doc, ["data|query_1|table|filter_1|table"]).nodes[1].inputs).toEqual({});
    const removed = removeNodes(doc, ["filter_1"]);
    expect(removed.nodes.map((n) => n.id)).toEqual(["query_1", "python_1"]);
    expect(removed.nodes[1].inputs).toEqual({});
  });

  it("renames a node and every reference to it", () => {
    let doc = mustConnect(build(), "query_1", "table", "filter_1", "table");
    const renamed = renameNode(doc, "query_1", "extract");
    expect(renamed.ok && renamed.doc.nodes[1].inputs.table).toBe("extract.table");
    expect(renameNode(doc, "query_1", "filter_1").ok).toBe(false);
    expect(renameNode(doc, "query_1", "1bad").ok).toBe(false);
    doc = renamed.ok ? renamed.doc : doc;
    expect(doc.nodes[0].id).toBe("extract");
  });

  it("pastes copies under new ids, keeping their connections", () => {
    let doc = mustConnect(build(), "query_1", "table", "filter_1", "table");
    const pasted = pasteNodes(doc, copyNodes(doc, ["query_1", "filter_1"]), { x: 20, y: 20 });
    expect(pasted.ids).toEqual(["query_2", "filter_2"]);
    const copy = pasted.doc.nodes.find((n) => n.id === "filter_2")!;
    expect(copy.inputs).toEqual({ table: "query_2.table" });
    expect(copy.position).toEqual({ x: 220, y: 20 });
    doc = pasteNodes(doc, copyNodes(doc, ["filter_1"]), { x: 0, y: 0 }).doc;
    expect(doc.nodes.at(-1)!.inputs).toEqual({ table: "query_1.table" });
  });

  it("round-trips through the flow definition with positions in ui", () => {
    const doc = mustConnect(build(), "query_1", "table", "filter_1", "table");
    const definition = toDefinition({ ...doc, id: "test" });
    expect(definition.id).toBe("test");
    expect(definition.nodes[1]).toEqual({ id: "filter_1", type: "transform.filter", config: {}, inputs: { table: "query_1.table" } });
    expect((definition.ui as { positions: Record<string, unknown> }).positions.python_1).toEqual({ x: 400, y: 0 });
    const back = fromDefinition(definition, "test");
    expect(toDefinition(back)).toEqual(definition);
  });

  it("lays out nodes a definition gives no position", () => {
    const doc = fromDefinition(
      { name: "x", nodes: [{ id: "a", type: "noop", config: {}, inputs: {} }, { id: "b", type: "noop", config: {}, inputs: { x: "a.x" } }] },
      null,
    );
    expect(doc.nodes[0].position.x).toBeLessThan(doc.nodes[1].position.x);
  });

  it("groups a 422's problems by the node they name", () => {
    const problems = problemsFromDetails({
      errors: [
        { node: "python_1", field: "config.code", message: "Field required" },
        { node: null, field: "params.day.default", message: "expected a date" },
        { node: "filter_1", field: "inputs", message: "cycle: filter_1 -> query_1 -> filter_1", cycle: ["filter_1", "query_1"] },
      ],
    });
    const index = indexProblems(problems, build());
    expect(index.byNode.get("python_1")![0].field).toBe("config.code");
    expect(index.byNode.has("query_1")).toBe(true);
    expect(index.general.map((p) => p.field)).toEqual(["params.day.default"]);
  });
});

describe("normalizeDefinition", () => {
  it("spells out the defaults a stored version carries", () => {
    const mine = toDefinition({ ...emptyDoc("n"), id: "n", nodes: [{ id: "a", type: "noop", config: {}, inputs: {}, position: { x: 0, y: 0 } }], triggers: [{ type: "cron", cron: "@daily" }] });
    const stored = {
      ...mine,
      nodes: [{ id: "a", type: "noop", title: null, config: {}, inputs: {}, retries: 0, retry_backoff_s: 1.0, timeout_s: null, cache: false }],
      triggers: [{ type: "cron" as const, cron: "@daily", timezone: "UTC", params: {}, enabled: true }],
    };
    expect(normalizeDefinition(mine)).toEqual(normalizeDefinition(stored));
    expect(normalizeDefinition({ ...mine, nodes: [{ ...mine.nodes[0], retries: 2 }] })).not.toEqual(normalizeDefinition(stored));
  });
});
