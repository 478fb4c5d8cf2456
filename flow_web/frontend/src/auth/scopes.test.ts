import { describe, expect, it } from "vitest";
import { parseScope, permissionsOf } from "./scopes";

describe("permissionsOf", () => {
  it("lets a viewer read but not edit or run", () => {
    const viewer = permissionsOf(["flows:read", "cron:read", "streams:read"]);
    expect(viewer.readFlows).toBe(true);
    expect(viewer.editFlows).toBe(false);
    expect(viewer.runFlows).toBe(false);
    expect(viewer.editCron).toBe(false);
  });

  it("lets an editor edit and run", () => {
    const editor = permissionsOf(parseScope("flows:read flows:write flows:run cron:write"));
    expect(editor.editFlows && editor.runFlows && editor.editCron).toBe(true);
    expect(editor.admin).toBe(false);
  });

  it("splits a scope string", () => {
    expect(parseScope("  b a  ")).toEqual(["a", "b"]);
    expect(parseScope(undefined)).toEqual([]);
  });
});
