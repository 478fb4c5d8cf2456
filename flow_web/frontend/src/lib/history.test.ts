import { describe, expect, it } from "vitest";
import { canRedo, canUndo, createHistory, record, redo, replacePresent, undo } from "./history";

describe("history", () => {
  it("undoes and redoes edits in order", () => {
    let h = createHistory(1);
    h = record(h, 2);
    h = record(h, 3);
    expect(h.present).toBe(3);
    h = undo(h);
    expect(h.present).toBe(2);
    h = undo(h);
    expect(h.present).toBe(1);
    expect(canUndo(h)).toBe(false);
    h = redo(h);
    expect(h.present).toBe(2);
    expect(canRedo(h)).toBe(true);
  });

  it("drops the redo future on a new edit", () => {
    let h = record(record(createHistory("a"), "b"), "c");
    h = record(undo(h), "d");
    expect(h.present).toBe("d");
    expect(canRedo(h)).toBe(false);
    expect(undo(h).present).toBe("b");
  });

  it("merges edits of the same group into one step", () => {
    let h = createHistory("");
    h = record(h, "h", "name");
    h = record(h, "he", "name");
    h = record(h, "hey", "name");
    expect(undo(h).present).toBe("");
    h = record(h, "hey!", "other");
    expect(undo(h).present).toBe("hey");
  });

  it("keeps at most the limit of past states", () => {
    let h = createHistory(0);
    for (let i = 1; i <= 10; i++) h = record(h, i, null, 3);
    expect(h.past).toEqual([7, 8, 9]);
  });

  it("ignores a no-op edit and replaces without a step", () => {
    const state = { a: 1 };
    const h = createHistory(state);
    expect(record(h, state)).toBe(h);
    const replaced = replacePresent(h, { a: 2 });
    expect(replaced.present).toEqual({ a: 2 });
    expect(canUndo(replaced)).toBe(false);
  });

  it("does nothing when there is nothing to undo or redo", () => {
    const h = createHistory(1);
    expect(undo(h)).toBe(h);
    expect(redo(h)).toBe(h);
  });
});
