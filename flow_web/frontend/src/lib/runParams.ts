/**
 * The "start a run" form's values: one input per param the flow declares
 * (flow_automation/flows/model.py ParamSpec), prefilled with the default, and
 * the params JSON built back from what was typed, with a message per field
 * for what the server would refuse anyway (resolve_params).
 *
 * A field left empty is not sent, so the server applies the param's default;
 * an empty required param without a default is an error before any request.
 */
import type { ParamSpec } from "../api/types";

export type ParamInputs = Record<string, string | boolean>;

export interface ParamsResult {
  params: Record<string, unknown>;
  errors: Record<string, string>;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}

/** An ISO date-time as a datetime-local input's value, in the browser's zone. */
export function toLocalInput(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}`;
}

function inputOf(spec: ParamSpec, value: unknown): string | boolean {
  if (spec.type === "boolean") return value === true || value === "true";
  if (value === null || value === undefined) return "";
  if (spec.type === "object" || spec.type === "array") return JSON.stringify(value, null, 2);
  if (spec.type === "datetime" && typeof value === "string") return toLocalInput(value) || value;
  return String(value);
}

/** The form's starting values: `given` (e.g. an earlier run's params) over each param's default. */
export function initialParamInputs(specs: Record<string, ParamSpec>, given: Record<string, unknown> = {}): ParamInputs {
  return Object.fromEntries(
    Object.entries(specs).map(([name, spec]) => [name, inputOf(spec, name in given ? given[name] : spec.default)]),
  );
}

function convert(spec: ParamSpec, text: string): { value?: unknown; error?: string } {
  switch (spec.type) {
    case "integer":
      return /^[-+]?\d+$/.test(text) ? { value: Number(text) } : { error: "must be a whole number" };
    case "number": {
      const value = Number(text);
      return Number.isFinite(value) ? { value } : { error: "must be a number" };
    }
    case "object":
    case "array": {
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (error) {
        return { error: `must be JSON: ${error instanceof Error ? error.message : String(error)}` };
      }
      const isArray = Array.isArray(value);
      if (spec.type === "array" ? !isArray : isArray || typeof value !== "object" || value === null) {
        return { error: spec.type === "array" ? "must be a JSON array ([...])" : "must be a JSON object ({...})" };
      }
      return { value };
    }
    case "date":
      return /^\d{4}-\d{2}-\d{2}$/.test(text) ? { value: text } : { error: "must be a date (YYYY-MM-DD)" };
    case "datetime": {
      const date = new Date(text);
      return Number.isNaN(date.getTime()) ? { error: "must be a date and time" } : { value: date.toISOString() };
    }
    default:
      return { value: text };
  }
}

export function paramsFromInputs(specs: Record<string, ParamSpec>, inputs: ParamInputs): ParamsResult {
  const params: Record<string, unknown> = {};
  const errors: Record<string, string> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const raw = inputs[name];
    if (spec.type === "boolean") {
      params[name] = raw === true;
      continue;
    }
    const text = typeof raw === "string" ? (spec.type === "string" ? raw : raw.trim()) : "";
    if (text === "") {
      const hasDefault = spec.default !== undefined && spec.default !== null;
      if (spec.required && !hasDefault) errors[name] = "required";
      continue;
    }
    const converted = convert(spec, text);
    if (converted.error) errors[name] = converted.error;
    else params[name] = converted.value;
  }
  return { params, errors };
}

/** Field messages from a 422's `details.errors` (`{"field": "params.<name>", "message"}`), and the rest. */
export function paramErrorsFromDetails(details: unknown): { byParam: Record<string, string>; other: string[] } {
  const errors = (details as { errors?: unknown } | null)?.errors;
  const byParam: Record<string, string> = {};
  const other: string[] = [];
  if (!Array.isArray(errors)) return { byParam, other };
  for (const entry of errors) {
    if (!entry || typeof entry !== "object") continue;
    const { field, message } = entry as { field?: unknown; message?: unknown };
    const text = String(message ?? "");
    if (typeof field === "string" && field.startsWith("params.")) byParam[field.slice(7)] = text;
    else other.push(typeof field === "string" && field ? `${field}: ${text}` : text);
  }
  return { byParam, other };
}
