/**
 * Stream pipelines in the Streams screen's editor and back
 * (stream_pipeline/models.py, steps/, sinks/), and their live status in words.
 *
 * Each step and sink type is described once here by its fields; one
 * renderer draws any of them, and `formToPipelineSpec` turns what was typed
 * into the JSON the service validates, leaving out what was left empty so
 * the service's defaults apply. Fields of a stored step that the form does
 * not know are kept and sent back unchanged.
 */
import type { KeyValue } from "./cronJobs";
import { keyValuesToRecord, recordToKeyValues } from "./cronJobs";

// -- API shapes -------------------------------------------------------------------------------

export type StepSpec = { type: string; name?: string | null } & Record<string, unknown>;
export type SinkSpec = { type: string } & Record<string, unknown>;

export interface PipelineSpec {
  id?: string;
  name: string;
  description?: string;
  source: { topics: string[]; group?: string | null; start?: "earliest" | "latest"; format?: SourceFormat };
  steps: StepSpec[];
  sink: SinkSpec;
  dead_letter_topic?: string | null;
  batch?: { max_records?: number; max_wait_ms?: number };
}

export type SourceFormat = "json" | "text" | "bytes";

export interface Pipeline extends PipelineSpec {
  id: string;
  description: string;
  dead_letter_topic: string;
  state: "running" | "stopped";
  version: number;
  group: string;
  created_at: string;
  updated_at: string;
}

export interface Rates {
  in_per_s: number;
  out_per_s: number;
  dead_letters_per_s: number;
}

export interface WorkerError {
  at?: number;
  stage?: string;
  type?: string;
  message?: string;
}

export interface WorkerStatus {
  worker_id: string;
  state: string;
  version: number;
  heartbeat_at: string;
  partitions: { topic: string; partition: number; lag?: number | null }[];
  totals: { in?: number; out?: number; dead_letters?: number; batches?: number };
  rates: Rates;
  last_error: WorkerError | null;
}

export interface PartitionStatus {
  topic: string;
  partition: number;
  end_offset: number | null;
  committed: number | null;
  lag: number | null;
  worker_id: string | null;
}

export interface PipelineStatus {
  pipeline_id: string;
  state: string;
  version: number;
  group: string;
  running_version: number | null;
  workers: WorkerStatus[];
  partitions: PartitionStatus[];
  lag: number | null;
  rates: Rates;
  last_error: WorkerError | null;
  kafka_error: string | null;
}

export interface PreviewResult {
  output: unknown[];
  dead_letters: { index: number; stage: string; error: { type?: string; message?: string } }[];
  duration_ms: number;
}

export interface DeadLetter {
  pipeline?: string;
  pipeline_version?: number;
  stage?: string;
  error?: { type?: string; message?: string };
  source?: { topic?: string; partition?: number; offset?: number; timestamp?: number; key_base64?: string | null };
  value_base64?: string;
  value_text?: string | null;
  failed_at?: string;
  dead_letter: { partition: number; offset: number; timestamp?: number; replayed?: boolean };
}

// -- the field descriptions ------------------------------------------------------------------

export type FieldKind = "text" | "expr" | "number" | "list" | "pairs" | "json" | "code" | "bool" | "select";

export interface FieldSpec {
  key: string;
  label: string;
  kind: FieldKind;
  required?: boolean;
  options?: readonly string[];
  hint?: string;
  placeholder?: string;
  /** The value a new step starts with. */
  initial?: FieldValue;
}

export interface ComponentType {
  type: string;
  title: string;
  description: string;
  fields: FieldSpec[];
}

const TIME_FIELD: FieldSpec = { key: "time_field", label: "Event-time field", kind: "text", hint: "default: the Kafka timestamp" };
const WINDOW_FIELDS: FieldSpec[] = [
  { key: "size_s", label: "Window (s)", kind: "number", required: true, initial: "60" },
  { key: "allowed_lateness_s", label: "Allowed lateness (s)", kind: "number" },
  TIME_FIELD,
  { key: "group_by", label: "Group by", kind: "list", hint: "field paths, comma-separated" },
  {
    key: "aggregations",
    label: "Aggregations (JSON)",
    kind: "json",
    required: true,
    initial: '{"count": {"op": "count"}}',
    hint: '{output: {"op": count|sum|avg|min|max, "field": path}}',
  },
  { key: "late", label: "Late events", kind: "select", options: ["dead_letter", "drop"] },
];

export const STEP_TYPES: readonly ComponentType[] = [
  { type: "filter", title: "Filter", description: "keeps records where the expression is true", fields: [{ key: "expr", label: "Keep when", kind: "expr", required: true, placeholder: "amount > 10 and country == 'KR'" }] },
  {
    type: "map",
    title: "Map",
    description: "computed fields (in order), then removals",
    fields: [
      { key: "set", label: "Set fields", kind: "pairs", hint: "field path = expression", initial: [{ key: "", value: "" }] },
      { key: "drop", label: "Drop fields", kind: "list", hint: "field paths, comma-separated" },
    ],
  },
  { type: "project", title: "Project", description: "keeps only these fields", fields: [{ key: "fields", label: "Fields", kind: "list", required: true, hint: "field paths, comma-separated" }] },
  { type: "rename", title: "Rename", description: "moves fields", fields: [{ key: "fields", label: "Renames", kind: "pairs", required: true, hint: "old path → new path", initial: [{ key: "", value: "" }] }] },
  {
    type: "validate",
    title: "Validate",
    description: "checks records against a JSON Schema; a mismatch is dead-lettered",
    fields: [
      { key: "schema", label: "JSON Schema", kind: "json", required: true, initial: '{"type": "object", "required": []}' },
      { key: "field", label: "Field", kind: "text", hint: "validate this field instead of the whole record" },
      { key: "parse", label: "Parse JSON strings first", kind: "bool", initial: true },
    ],
  },
  {
    type: "dedupe",
    title: "Dedupe",
    description: "drops a record whose key was seen within the window",
    fields: [
      { key: "key", label: "Key", kind: "expr", required: true, placeholder: "order_id" },
      { key: "window_s", label: "Window (s)", kind: "number", required: true, initial: "300" },
      TIME_FIELD,
      { key: "max_keys", label: "Keys remembered", kind: "number" },
    ],
  },
  { type: "tumbling_window", title: "Tumbling window", description: "aggregates fixed, back-to-back windows", fields: WINDOW_FIELDS },
  {
    type: "sliding_window",
    title: "Sliding window",
    description: "aggregates overlapping windows starting every slide",
    fields: [...WINDOW_FIELDS.slice(0, 1), { key: "slide_s", label: "Slide (s)", kind: "number", required: true, initial: "10" }, ...WINDOW_FIELDS.slice(1)],
  },
  {
    type: "enrich",
    title: "Enrich",
    description: "adds fields of a MongoDB document",
    fields: [
      { key: "collection", label: "Collection", kind: "text", required: true },
      { key: "key", label: "Record field", kind: "text", required: true, hint: "its value is looked up" },
      { key: "lookup_field", label: "Document field", kind: "text", hint: "default _id" },
      { key: "database", label: "Database", kind: "text", hint: "default: the platform's" },
      { key: "fields", label: "Take fields", kind: "list", hint: "default: all but _id" },
      { key: "into", label: "Into", kind: "text", hint: "default: merge" },
      { key: "on_missing", label: "When missing", kind: "select", options: ["keep", "drop", "dead_letter"] },
      { key: "cache_ttl_s", label: "Cache TTL (s)", kind: "number" },
      { key: "cache_size", label: "Cache size", kind: "number" },
    ],
  },
  {
    type: "python",
    title: "Python",
    description: "process(value) returns the new value, None to drop, or a list",
    fields: [{ key: "code", label: "Code", kind: "code", required: true, initial: "def process(value):\n    return value\n" }],
  },
];

export const SINK_TYPES: readonly ComponentType[] = [
  {
    type: "kafka",
    title: "Kafka topic",
    description: "produced with acks=all; the topic is created if missing",
    fields: [
      { key: "topic", label: "Topic", kind: "text", required: true },
      { key: "key", label: "Key", kind: "expr", hint: "expression; default: the source key" },
      { key: "partitions", label: "Partitions", kind: "number", hint: "when created" },
      { key: "format", label: "Format", kind: "select", options: ["json", "text"] },
    ],
  },
  {
    type: "mongo",
    title: "MongoDB collection",
    description: "one bulk upsert per batch",
    fields: [
      { key: "collection", label: "Collection", kind: "text", required: true },
      { key: "database", label: "Database", kind: "text", hint: "default: the platform's" },
      { key: "key", label: "Key fields", kind: "list", hint: "paths forming _id" },
      { key: "mode", label: "Mode", kind: "select", options: ["replace", "merge"] },
    ],
  },
  {
    type: "sql",
    title: "SQL table",
    description: "upserts into an existing table",
    fields: [
      { key: "url", label: "SQLAlchemy URL", kind: "text", required: true, placeholder: "postgresql+psycopg://user:pw@host/db" },
      { key: "table", label: "Table", kind: "text", required: true },
      { key: "schema", label: "Schema", kind: "text" },
      { key: "key", label: "Key columns", kind: "list" },
    ],
  },
  {
    type: "http",
    title: "HTTP endpoint",
    description: "POSTs JSON arrays with an Idempotency-Key",
    fields: [
      { key: "url", label: "URL", kind: "text", required: true },
      { key: "method", label: "Method", kind: "select", options: ["POST", "PUT"] },
      { key: "headers", label: "Headers", kind: "pairs" },
      { key: "batch_size", label: "Records per request", kind: "number" },
      { key: "timeout_s", label: "Timeout (s)", kind: "number" },
      { key: "max_attempts", label: "Attempts", kind: "number" },
    ],
  },
];

export function componentType(types: readonly ComponentType[], type: string): ComponentType | undefined {
  return types.find((candidate) => candidate.type === type);
}

// -- the form ---------------------------------------------------------------------------------

export type FieldValue = string | boolean | KeyValue[];

export interface ComponentForm {
  type: string;
  name: string;
  values: Record<string, FieldValue>;
  /** Stored config keys the form has no field for, sent back as they were. */
  extra: Record<string, unknown>;
}

export interface PipelineForm {
  id: string;
  name: string;
  description: string;
  topics: string;
  group: string;
  start: "earliest" | "latest";
  format: SourceFormat;
  steps: ComponentForm[];
  sink: ComponentForm;
  deadLetterTopic: string;
  maxRecords: string;
  maxWaitMs: string;
}

function emptyValue(field: FieldSpec): FieldValue {
  if (field.initial !== undefined) return Array.isArray(field.initial) ? field.initial.map((row) => ({ ...row })) : field.initial;
  if (field.kind === "pairs") return [];
  if (field.kind === "bool") return false;
  return "";
}

export function newComponent(types: readonly ComponentType[], type: string): ComponentForm {
  const spec = componentType(types, type);
  const values: Record<string, FieldValue> = {};
  for (const field of spec?.fields ?? []) values[field.key] = emptyValue(field);
  return { type, name: "", values, extra: {} };
}

/** A component switched to another type keeps the values of the fields both types have. */
export function changeComponentType(types: readonly ComponentType[], form: ComponentForm, type: string): ComponentForm {
  const next = newComponent(types, type);
  for (const key of Object.keys(next.values)) {
    const kept = form.values[key];
    if (kept !== undefined && typeof kept === typeof next.values[key] && Array.isArray(kept) === Array.isArray(next.values[key])) next.values[key] = kept;
  }
  return { ...next, name: form.name };
}

export function newPipelineForm(): PipelineForm {
  return {
    id: "",
    name: "",
    description: "",
    topics: "",
    group: "",
    start: "earliest",
    format: "json",
    steps: [],
    sink: newComponent(SINK_TYPES, "kafka"),
    deadLetterTopic: "",
    maxRecords: "",
    maxWaitMs: "",
  };
}

export function splitList(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((item) => item.trim())
    .filter(Boolean);
}

export type FieldErrors = Record<string, string>;

function valueToApi(field: FieldSpec, value: FieldValue | undefined, errors: FieldErrors, path: string): unknown {
  const problem = (message: string) => {
    errors[path] = message;
    return undefined;
  };
  switch (field.kind) {
    case "bool":
      return Boolean(value);
    case "pairs": {
      const record = keyValuesToRecord(Array.isArray(value) ? value : []);
      if (Object.keys(record).length === 0) return field.required ? problem(`${field.label}: add at least one`) : undefined;
      return record;
    }
    case "list": {
      const items = splitList(typeof value === "string" ? value : "");
      if (items.length === 0) return field.required ? problem(`${field.label}: name at least one`) : undefined;
      return items;
    }
    default: {
      const text = typeof value === "string" ? value : "";
      if (text.trim() === "") return field.required ? problem(`${field.label} is required`) : undefined;
      if (field.kind === "number") {
        const number = Number(text);
        return Number.isFinite(number) ? number : problem(`${field.label} must be a number`);
      }
      if (field.kind === "json") {
        try {
          return JSON.parse(text);
        } catch (error) {
          return problem(`${field.label} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return field.kind === "code" ? text : text.trim();
    }
  }
}

export function componentToApi(types: readonly ComponentType[], form: ComponentForm, errors: FieldErrors, prefix: string): StepSpec {
  const spec = componentType(types, form.type);
  const config: StepSpec = { ...form.extra, type: form.type };
  if (form.name.trim()) config.name = form.name.trim();
  if (!spec) {
    errors[`${prefix}.type`] = `Unknown type ${form.type}`;
    return config;
  }
  for (const field of spec.fields) {
    const value = valueToApi(field, form.values[field.key], errors, `${prefix}.${field.key}`);
    if (value !== undefined) config[field.key] = value;
  }
  return config;
}

function valueFromApi(field: FieldSpec, value: unknown): FieldValue {
  if (value === undefined || value === null) return field.kind === "pairs" ? [] : field.kind === "bool" ? false : "";
  switch (field.kind) {
    case "bool":
      return Boolean(value);
    case "pairs":
      return recordToKeyValues(value as Record<string, string>);
    case "list":
      return Array.isArray(value) ? value.join(", ") : String(value);
    case "json":
      return JSON.stringify(value, null, 2);
    default:
      return String(value);
  }
}

export function componentFromApi(types: readonly ComponentType[], config: StepSpec): ComponentForm {
  const spec = componentType(types, config.type);
  const { type, name, ...rest } = config;
  const values: Record<string, FieldValue> = {};
  const extra: Record<string, unknown> = { ...rest };
  for (const field of spec?.fields ?? []) {
    values[field.key] = valueFromApi(field, rest[field.key]);
    delete extra[field.key];
  }
  return { type, name: typeof name === "string" ? name : "", values, extra };
}

export function formToPipelineSpec(form: PipelineForm): { spec: PipelineSpec | null; errors: FieldErrors } {
  const errors: FieldErrors = {};
  if (form.name.trim() === "") errors.name = "Give the pipeline a name";
  if (form.id.trim() && !/^[a-z0-9][a-z0-9._-]{0,99}$/.test(form.id.trim())) errors.id = "Lower-case letters, digits, '.', '_' and '-', starting with a letter or digit";
  const topics = splitList(form.topics);
  if (topics.length === 0) errors.topics = "Name at least one source topic";
  const source: PipelineSpec["source"] = { topics, start: form.start, format: form.format };
  if (form.group.trim()) source.group = form.group.trim();
  const spec: PipelineSpec = {
    name: form.name.trim(),
    description: form.description,
    source,
    steps: form.steps.map((step, index) => componentToApi(STEP_TYPES, step, errors, `steps.${index}`)),
    sink: componentToApi(SINK_TYPES, form.sink, errors, "sink") as SinkSpec,
  };
  if (form.id.trim()) spec.id = form.id.trim();
  if (form.deadLetterTopic.trim()) spec.dead_letter_topic = form.deadLetterTopic.trim();
  const batch: NonNullable<PipelineSpec["batch"]> = {};
  for (const [text, key, label] of [
    [form.maxRecords, "max_records", "Batch size"],
    [form.maxWaitMs, "max_wait_ms", "Batch wait"],
  ] as const) {
    if (text.trim() === "") continue;
    const number = Number(text);
    if (!Number.isInteger(number) || number < 0) errors[key === "max_records" ? "maxRecords" : "maxWaitMs"] = `${label} must be a whole number`;
    else batch[key] = number;
  }
  if (Object.keys(batch).length) spec.batch = batch;
  return { spec: Object.keys(errors).length === 0 ? spec : null, errors };
}

export function pipelineToForm(pipeline: Pipeline): PipelineForm {
  return {
    id: pipeline.id,
    name: pipeline.name,
    description: pipeline.description ?? "",
    topics: pipeline.source.topics.join(", "),
    group: pipeline.source.group ?? "",
    start: pipeline.source.start ?? "earliest",
    format: pipeline.source.format ?? "json",
    steps: pipeline.steps.map((step) => componentFromApi(STEP_TYPES, step)),
    sink: componentFromApi(SINK_TYPES, pipeline.sink),
    deadLetterTopic: pipeline.dead_letter_topic ?? "",
    maxRecords: pipeline.batch?.max_records !== undefined ? String(pipeline.batch.max_records) : "",
    maxWaitMs: pipeline.batch?.max_wait_ms !== undefined ? String(pipeline.batch.max_wait_ms) : "",
  };
}

/**
 * A server-side field path as the form's key: `steps.0.filter.expr` (the
 * step's type is part of pydantic's path) becomes `steps.0.expr`,
 * `sink.kafka.topic` becomes `sink.topic`, `source.topics` becomes `topics`.
 */
export function formFieldOf(path: string): string {
  const parts = path.split(".");
  if (parts[0] === "steps" && /^\d+$/.test(parts[1] ?? "")) {
    const rest = parts.slice(2);
    if (rest.length > 1 && componentType(STEP_TYPES, rest[0])) rest.shift();
    return rest.length ? `steps.${parts[1]}.${rest[0]}` : `steps.${parts[1]}`;
  }
  if (parts[0] === "sink") {
    const rest = parts.slice(1);
    if (rest.length > 1 && componentType(SINK_TYPES, rest[0])) rest.shift();
    return rest.length ? `sink.${rest[0]}` : "sink";
  }
  if (parts[0] === "source") return parts[1] === "topics" || !parts[1] ? "topics" : parts[1];
  const named: Record<string, string> = { dead_letter_topic: "deadLetterTopic", "batch.max_records": "maxRecords", "batch.max_wait_ms": "maxWaitMs" };
  return named[parts.slice(0, 2).join(".")] ?? named[parts[0]] ?? parts[0];
}

// -- sample messages -------------------------------------------------------------------------

/**
 * Sample messages as typed: a JSON array, or one JSON value per line; with
 * `raw`, every non-empty line is a message string for the source format to
 * decode (so a malformed message can be tried too).
 */
export function parseSamples(text: string, raw: boolean): { messages: unknown[] } | { error: string } {
  const lines = text.split("\n");
  if (raw) {
    const messages = lines.filter((line) => line.trim() !== "");
    return messages.length ? { messages } : { error: "Enter at least one sample message, one per line" };
  }
  const trimmed = text.trim();
  if (trimmed === "") return { error: "Enter at least one sample message: a JSON value per line, or a JSON array" };
  if (trimmed.startsWith("[")) {
    try {
      const parsed: unknown = JSON.parse(trimmed);
      if (Array.isArray(parsed)) return parsed.length ? { messages: parsed } : { error: "The array is empty" };
    } catch {
      // not one array: read it line by line
    }
  }
  const messages: unknown[] = [];
  for (const [index, line] of lines.entries()) {
    if (line.trim() === "") continue;
    try {
      messages.push(JSON.parse(line));
    } catch (error) {
      return { error: `Line ${index + 1} is not JSON (${error instanceof Error ? error.message : String(error)}); tick "raw" to send it as text` };
    }
  }
  return { messages };
}

// -- status in words ----------------------------------------------------------------------------

export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return "—";
  if (perSecond === 0) return "0/s";
  if (perSecond < 10) return `${perSecond.toFixed(1)}/s`;
  return `${Math.round(perSecond).toLocaleString("en-US")}/s`;
}

export function formatCount(count: number | null | undefined): string {
  if (count === null || count === undefined) return "—";
  return count.toLocaleString("en-US");
}

export interface Totals {
  in: number;
  out: number;
  dead_letters: number;
}

/** Messages in, out and dead-lettered since each worker started running the pipeline, summed. */
export function totalsOf(status: Pick<PipelineStatus, "workers">): Totals {
  const totals: Totals = { in: 0, out: 0, dead_letters: 0 };
  for (const worker of status.workers) {
    totals.in += worker.totals.in ?? 0;
    totals.out += worker.totals.out ?? 0;
    totals.dead_letters += worker.totals.dead_letters ?? 0;
  }
  return totals;
}

export type Health = "running" | "starting" | "waiting" | "stopping" | "stopped" | "error";

/** One word for a pipeline's condition, and why. */
export function healthOf(pipelineState: string, status: PipelineStatus | null, now: number = Date.now()): { health: Health; reason: string } {
  if (!status) return pipelineState === "running" ? { health: "starting", reason: "status not known yet" } : { health: "stopped", reason: "stopped" };
  if (status.kafka_error) return { health: "error", reason: `Kafka: ${status.kafka_error}` };
  const error = status.last_error;
  const recent = error && (error.at === undefined || now / 1000 - error.at < 60);
  if (pipelineState !== "running") {
    return status.workers.length > 0 ? { health: "stopping", reason: "workers are finishing their batch" } : { health: "stopped", reason: "stopped" };
  }
  if (recent && error) return { health: "error", reason: `${error.stage ? `${error.stage}: ` : ""}${error.type ? `${error.type}: ` : ""}${error.message ?? ""}` };
  if (status.workers.length === 0) return { health: "waiting", reason: "no worker runs it yet" };
  if (status.workers.every((worker) => worker.state !== "running")) return { health: "starting", reason: status.workers.map((w) => w.state).join(", ") };
  const behind = status.running_version !== null && status.running_version < status.version;
  return { health: "running", reason: behind ? `workers still run version ${status.running_version}` : `${status.workers.length} worker(s)` };
}

/** The CSS state class of a health word. */
export function healthClass(health: Health): string {
  return { running: "succeeded", starting: "running", waiting: "warn", stopping: "warn", stopped: "stopped", error: "failed" }[health];
}

/** A dead letter's original message, for people: its text, or its bytes in base64. */
export function deadLetterValue(letter: Pick<DeadLetter, "value_text" | "value_base64">): string {
  if (typeof letter.value_text === "string") return letter.value_text;
  return letter.value_base64 ? `base64: ${letter.value_base64}` : "";
}
