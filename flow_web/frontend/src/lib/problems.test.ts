import { describe, expect, it } from "vitest";
import { cleanMessage, fieldProblems, problemLines, problemsByField } from "./problems";

describe("fieldProblems", () => {
  it("reads the services' details and drops what is not a problem", () => {
    const problems = fieldProblems([
      { field: "schedules.0.cron", message: "Value error, Error validating expression '66'", type: "value_error" },
      { loc: ["action", "url"], msg: "String should match pattern" },
      "not an entry",
      { field: "x" },
    ]);
    expect(problems).toEqual([
      { field: "schedules.0.cron", message: "Error validating expression '66'" },
      { field: "action.url", message: "String should match pattern" },
    ]);
    expect(fieldProblems(undefined)).toEqual([]);
    expect(fieldProblems({ field: "a", message: "b" })).toEqual([]);
  });

  it("keys problems by form field, first message winning", () => {
    const byField = problemsByField(
      [
        { field: "a.b", message: "first" },
        { field: "a.c", message: "second" },
        { field: "z", message: "elsewhere" },
      ],
      (field) => (field.startsWith("a.") ? "a" : null),
    );
    expect(byField).toEqual({ a: "first", "": "elsewhere" });
  });

  it("writes one line per problem", () => {
    expect(problemLines([{ field: "(body)", message: "m" }, { field: "name", message: "n" }])).toEqual(["m", "name: n"]);
    expect(cleanMessage("Assertion failed, x")).toBe("x");
  });
});
