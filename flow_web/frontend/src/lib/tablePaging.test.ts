import { describe, expect, it } from "vitest";
import { cellText, pageCount, pageSlice, tableColumns } from "./tablePaging";

const rows = Array.from({ length: 23 }, (_, i) => ({ n: i + 1 }));

describe("pageSlice", () => {
  it("cuts rows into pages with 1-based positions", () => {
    expect(pageSlice(rows, 0, 10)).toMatchObject({ page: 0, pageCount: 3, from: 1, to: 10, total: 23 });
    const last = pageSlice(rows, 2, 10);
    expect(last).toMatchObject({ from: 21, to: 23 });
    expect(last.rows.map((r) => r.n)).toEqual([21, 22, 23]);
  });

  it("clamps pages out of range", () => {
    expect(pageSlice(rows, 7, 10).page).toBe(2);
    expect(pageSlice(rows, -3, 10).page).toBe(0);
  });

  it("has one empty page for no rows", () => {
    expect(pageSlice([], 0, 10)).toEqual({ rows: [], page: 0, pageCount: 1, from: 0, to: 0, total: 0 });
    expect(pageCount(0, 10)).toBe(1);
    expect(pageCount(20, 10)).toBe(2);
    expect(pageCount(21, 10)).toBe(3);
  });
});

describe("tableColumns", () => {
  it("keeps the preview's column order and adds keys only rows have", () => {
    expect(tableColumns({ columns: [{ name: "b" }, { name: "a" }], head: [{ a: 1, b: 2, extra: 3 }] })).toEqual(["b", "a", "extra"]);
    expect(tableColumns({ head: [{ x: 1 }, { y: 2 }] })).toEqual(["x", "y"]);
  });
});

describe("cellText", () => {
  it("shows nulls, numbers, booleans and nested values", () => {
    expect([null, undefined, "KR", 1.5, false, { a: [1] }].map(cellText)).toEqual(["null", "null", "KR", "1.5", "false", '{"a":[1]}']);
  });
});
