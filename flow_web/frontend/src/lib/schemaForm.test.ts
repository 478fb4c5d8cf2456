import { describe, expect, it } from "vitest";
import { CODE_WIDGET, JSON_FIELD, cleanConfig, inlineRefs, prepareConfigSchema } from "./schemaForm";

const python = {
  additionalProperties: false,
  properties: {
    code: { contentMediaType: "text/x-python", format: "code", minLength: 1, title: "Code", type: "string" },
    memory_mb: { anyOf: [{ minimum: 32, type: "integer" }, { type: "null" }], default: null, title: "Memory limit (MB)" },
  },
  required: ["code"],
  title: "PythonConfig",
  type: "object",
};

const filter = {
  $defs: {
    Condition: {
      properties: {
        operator: { $ref: "#/$defs/Operator", default: "eq" },
        value: { anyOf: [{ type: "string" }, { type: "integer" }, { type: "null" }], default: null, title: "Value" },
      },
      type: "object",
    },
    Operator: { enum: ["eq", "ne"], type: "string", title: "Operator" },
  },
  properties: { conditions: { items: { $ref: "#/$defs/Condition" }, type: "array" } },
  type: "object",
};

describe("prepareConfigSchema", () => {
  it("gives code fields the code editor and drops the null of optional fields", () => {
    const { schema, uiSchema } = prepareConfigSchema(python);
    const properties = schema.properties as Record<string, Record<string, unknown>>;
    expect(uiSchema.code).toEqual({ "ui:widget": CODE_WIDGET, "ui:options": { language: "text/x-python" } });
    expect(properties.code.format).toBeUndefined();
    expect(properties.memory_mb).toEqual({ minimum: 32, type: "integer", title: "Memory limit (MB)" });
    expect(schema.title).toBeUndefined();
  });

  it("inlines $defs references and keeps keywords beside a $ref", () => {
    const inlined = inlineRefs(filter);
    expect(JSON.stringify(inlined)).not.toContain("$ref");
    const items = (inlined.properties as any).conditions.items;
    expect(items.properties.operator).toEqual({ enum: ["eq", "ne"], type: "string", title: "Operator", default: "eq" });
  });

  it("turns a field of several JSON types into a free JSON field", () => {
    const { uiSchema } = prepareConfigSchema(filter);
    expect(uiSchema).toEqual({ conditions: { items: { value: { "ui:field": JSON_FIELD } } } });
  });

  it("leaves out empty optional values from a config", () => {
    expect(cleanConfig({ code: "x", memory_mb: undefined, note: "" }, python)).toEqual({ code: "x" });
    expect(cleanConfig({ code: "" }, python)).toEqual({ code: "" });
  });
});
