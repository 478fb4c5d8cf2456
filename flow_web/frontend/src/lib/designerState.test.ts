import { describe, expect, it } from "vitest";
import { designerReducer, initialState, isDirty, stableStringify } from "./designerState";
import { emptyDoc, type DesignDoc } from "./flowDoc";

const node = (id: string, x = 0) => ({ id, type: "noop", config: {}, inputs: {}, position: { x, y: 0 } });

function saved(): DesignDoc {
  return { ...emptyDoc("flow"), id: "flow", nodes: [node("a")] };
}

describe("designerReducer", () => {
  it("is clean after loading and dirty after an edit, clean again after undo", () => {
    let state = initialState(saved(), 1, true);
    expect(isDirty(state)).toBe(false);
    state = designerReducer(state, { type: "edit", doc: { ...state.history.present, nodes: [node("a"), node("b", 200)] } });
    expect(isDirty(state)).toBe(true);
    state = designerReducer(state, { type: "undo" });
    expect(isDirty(state)).toBe(false);
    state = designerReducer(state, { type: "redo" });
    expect(state.history.present.nodes.map((n) => n.id)).toEqual(["a", "b"]);
  });

  it("counts a moved node as a change, and one drag as one undo step", () => {
    let state = initialState(saved(), 1, true);
    for (const x of [10, 20, 30]) {
      state = designerReducer(state, { type: "edit", doc: { ...state.history.present, nodes: [node("a", x)] }, group: "move:a" });
    }
    expect(isDirty(state)).toBe(true);
    state = designerReducer(state, { type: "undo" });
    expect(state.history.present.nodes[0].position.x).toBe(0);
  });

  it("marks the document saved and clears the server's problems", () => {
    let state = initialState(emptyDoc(), null, false);
    state = designerReducer(state, { type: "edit", doc: { ...emptyDoc(), nodes: [node("a")] } });
    state = designerReducer(state, { type: "problems", problems: [{ node: "a", field: "config", message: "bad" }] });
    expect(isDirty(state)).toBe(true);
    state = designerReducer(state, { type: "saved", doc: { ...state.history.present, id: "untitled-flow" }, version: 1 });
    expect(isDirty(state)).toBe(false);
    expect(state.problems).toEqual([]);
    expect(state.savedVersion).toBe(1);
    expect(state.history.past).toHaveLength(1);
  });

  it("drops removed nodes from the selection", () => {
    let state = initialState({ ...saved(), nodes: [node("a"), node("b")] }, 1, true);
    state = designerReducer(state, { type: "select", selection: { nodes: ["a", "b"], edges: [] } });
    state = designerReducer(state, { type: "edit", doc: { ...state.history.present, nodes: [node("b")] } });
    expect(state.selection.nodes).toEqual(["b"]);
  });

  it("sees a config with keys in another order as unchanged", () => {
    expect(stableStringify({ b: 1, a: { d: 2, c: 3 } })).toBe(stableStringify({ a: { c: 3, d: 2 }, b: 1 }));
    const state = initialState({ ...saved(), nodes: [{ ...node("a"), config: { x: 1, y: 2 } }] }, 1, true);
    const reordered = designerReducer(state, {
      type: "edit",
      doc: { ...state.history.present, nodes: [{ ...node("a"), config: { y: 2, x: 1 } }] },
    });
    expect(isDirty(reordered)).toBe(false);
  });
});
