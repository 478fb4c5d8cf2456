/**
 * Node config schemas (pydantic's JSON Schema, from GET /api/v1/node-types)
 * made ready for the generated form:
 *
 * - `$ref`s into `$defs` are inlined, so the form and its validator see one
 *   self-contained schema;
 * - an optional field (`anyOf: [X, {type: null}]`) becomes X: an empty field is
 *   simply left out of the config, which is what `None` means to the server;
 * - a field that takes one of several JSON types (a filter's `value`) becomes
 *   a free JSON field with its own widget;
 * - `format: "code"` strings get the code editor, in the language their
 *   `contentMediaType` names.
 */

export type Schema = Record<string, unknown>;
export type UiSchema = Record<string, unknown>;

const MAX_DEPTH = 12;

function isObject(value: unknown): value is Schema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function resolveRef(ref: string, root: Schema): Schema | undefined {
  if (!ref.startsWith("#/")) return undefined;
  let current: unknown = root;
  for (const part of ref.slice(2).split("/")) {
    if (!isObject(current)) return undefined;
    current = current[part.replace(/~1/g, "/").replace(/~0/g, "~")];
  }
  return isObject(current) ? current : undefined;
}

/** The schema with every `$ref` replaced by what it points to (recursive references stop at a depth). */
export function inlineRefs(schema: Schema, root: Schema = schema, depth = 0): Schema {
  if (depth > MAX_DEPTH) return {};
  const out: Schema = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "$defs" || key === "definitions") continue;
    if (key === "$ref" && typeof value === "string") {
      const target = resolveRef(value, root);
      if (target) Object.assign(out, inlineRefs(target, root, depth + 1));
      continue;
    }
    out[key] = transformChildren(value, (child) => inlineRefs(child, root, depth + 1));
  }
  // Keywords next to $ref (title, description, default) win over the target's.
  for (const [key, value] of Object.entries(schema)) {
    if (key !== "$ref" && key !== "$defs" && key !== "definitions" && !isObject(value) && !Array.isArray(value)) {
      out[key] = value;
    }
  }
  return out;
}

function transformChildren(value: unknown, transform: (schema: Schema) => Schema): unknown {
  if (Array.isArray(value)) return value.map((item) => (isObject(item) ? transform(item) : item));
  if (isObject(value)) return transform(value);
  return value;
}

const SCHEMA_CHILDREN = new Set(["items", "additionalProperties", "anyOf", "oneOf", "allOf", "not"]);

function isNullSchema(schema: unknown): boolean {
  return isObject(schema) && schema.type === "null";
}

export interface PreparedSchema {
  schema: Schema;
  uiSchema: UiSchema;
}

export const CODE_WIDGET = "code";
export const JSON_FIELD = "jsonValue";

function simplify(schema: Schema): PreparedSchema {
  let current: Schema = { ...schema };
  const variants = (current.anyOf ?? current.oneOf) as unknown;
  if (Array.isArray(variants)) {
    const nonNull = variants.filter((v) => !isNullSchema(v));
    const { anyOf: _a, oneOf: _o, ...rest } = current;
    if (nonNull.length === 1 && isObject(nonNull[0])) {
      current = { ...nonNull[0], ...rest };
      if (current.default === null) delete current.default;
    } else {
      if (rest.default === null) delete rest.default;
      return { schema: rest, uiSchema: { "ui:field": JSON_FIELD } };
    }
  }
  if (current.default === null) delete current.default;
  const uiSchema: UiSchema = {};
  if (current.format === "code" && current.type === "string") {
    uiSchema["ui:widget"] = CODE_WIDGET;
    uiSchema["ui:options"] = { language: current.contentMediaType ?? "text/plain" };
    delete current.format;
  }
  if (isObject(current.properties)) {
    const properties: Schema = {};
    for (const [name, child] of Object.entries(current.properties)) {
      if (!isObject(child)) continue;
      const prepared = simplify(child);
      properties[name] = prepared.schema;
      if (Object.keys(prepared.uiSchema).length > 0) uiSchema[name] = prepared.uiSchema;
    }
    current.properties = properties;
  }
  for (const key of SCHEMA_CHILDREN) {
    if (key === "anyOf" || key === "oneOf") continue;
    const child = current[key];
    if (isObject(child)) {
      const prepared = simplify(child);
      current[key] = prepared.schema;
      if (key === "items" && Object.keys(prepared.uiSchema).length > 0) uiSchema.items = prepared.uiSchema;
    }
  }
  return { schema: current, uiSchema };
}

export function prepareConfigSchema(schema: Schema): PreparedSchema {
  const prepared = simplify(inlineRefs(schema));
  // The node panel shows the type's title already.
  delete prepared.schema.title;
  return prepared;
}

/** The config without keys whose value is undefined or an empty string for an optional field. */
export function cleanConfig(config: Record<string, unknown>, schema: Schema): Record<string, unknown> {
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  return Object.fromEntries(
    Object.entries(config).filter(([key, value]) => value !== undefined && !(value === "" && !required.has(key))),
  );
}
