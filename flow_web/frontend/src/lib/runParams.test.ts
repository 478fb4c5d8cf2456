import { describe, expect, it } from "vitest";
import type { ParamSpec } from "../api/types";
import { initialParamInputs, paramErrorsFromDetails, paramsFromInputs } from "./runParams";

const specs: Record<string, ParamSpec> = {
  country: { type: "string", default: "KR" },
  limit: { type: "integer", required: true },
  ratio: { type: "number", default: 0.5 },
  dry_run: { type: "boolean", default: true },
  day: { type: "date" },
  filters: { type: "object", default: { active: true } },
  ids: { type: "array" },
};

describe("initialParamInputs", () => {
  it("prefills defaults, JSON for objects, checkboxes for booleans", () => {
    expect(initialParamInputs(specs)).toEqual({
      country: "KR",
      limit: "",
      ratio: "0.5",
      dry_run: true,
      day: "",
      filters: '{\n  "active": true\n}',
      ids: "",
    });
  });

  it("prefers given values (an earlier run's params)", () => {
    expect(initialParamInputs(specs, { country: "DE", limit: 3, dry_run: false })).toMatchObject({ country: "DE", limit: "3", dry_run: false });
  });
});

describe("paramsFromInputs", () => {
  it("converts each type and leaves empty optional fields to the server's default", () => {
    const inputs = { ...initialParamInputs(specs), limit: "25", ratio: "", day: "2030-01-31", ids: "[1, 2]" };
    expect(paramsFromInputs(specs, inputs)).toEqual({
      params: { country: "KR", limit: 25, dry_run: true, day: "2030-01-31", filters: { active: true }, ids: [1, 2] },
      errors: {},
    });
  });

  it("names every field it cannot convert", () => {
    const inputs = { ...initialParamInputs(specs), limit: "2.5", ratio: "abc", day: "31/01/2030", filters: "[1]", ids: "{nope" };
    const { errors } = paramsFromInputs(specs, inputs);
    expect(errors.limit).toBe("must be a whole number");
    expect(errors.ratio).toBe("must be a number");
    expect(errors.day).toMatch(/YYYY-MM-DD/);
    expect(errors.filters).toBe("must be a JSON object ({...})");
    expect(errors.ids).toMatch(/^must be JSON/);
  });

  it("requires a required param without a default", () => {
    expect(paramsFromInputs(specs, initialParamInputs(specs)).errors).toEqual({ limit: "required" });
  });

  it("sends date-times as ISO instants", () => {
    const result = paramsFromInputs({ at: { type: "datetime" } }, { at: "2030-01-31T10:15" });
    expect(result.params.at).toBe(new Date("2030-01-31T10:15").toISOString());
  });
});

describe("paramErrorsFromDetails", () => {
  it("maps the server's params.<name> fields to the form's fields", () => {
    const details = {
      errors: [
        { field: "params.limit", message: "expected an integer, got 'x'" },
        { field: "params.ghost", message: "the flow has no param 'ghost'" },
        { field: "version", message: "no such version" },
      ],
    };
    expect(paramErrorsFromDetails(details)).toEqual({
      byParam: { limit: "expected an integer, got 'x'", ghost: "the flow has no param 'ghost'" },
      other: ["version: no such version"],
    });
    expect(paramErrorsFromDetails(null)).toEqual({ byParam: {}, other: [] });
  });
});
