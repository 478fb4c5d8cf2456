/**
 * ecron jobs in the Cron screen's form and back (ecron/models.py, ecron/schedules.py).
 *
 * The form holds what people type (strings, one amount and unit for an
 * interval, wall times in the schedule's timezone); `formToJobSpec` turns it
 * into the JSON ecron validates, or names the fields that cannot be read.
 * `jobToForm` is the inverse, so an edit sends back everything it did not
 * touch (retry policy, misfire policy, labels).
 */
import { describeCron } from "./cron";

// -- API shapes -------------------------------------------------------------------------------

export interface IntervalSpec {
  weeks?: number;
  days?: number;
  hours?: number;
  minutes?: number;
  seconds?: number;
}

export interface ScheduleSpec {
  cron?: string | null;
  interval?: IntervalSpec | null;
  at?: string | null;
  timezone?: string;
  start_date?: string | null;
  end_date?: string | null;
  jitter_s?: number;
}

export interface HttpActionSpec {
  type: "http";
  method?: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  timeout_s?: number;
  expected_status?: number[];
  auth?: "auto" | "service" | "none";
}

export interface KafkaActionSpec {
  type: "kafka";
  topic: string;
  key?: string | null;
  value?: unknown;
  headers?: Record<string, string>;
  timeout_s?: number;
}

export type ActionSpec = HttpActionSpec | KafkaActionSpec;

export interface RetrySpec {
  max_attempts: number;
  backoff_s: number;
  max_backoff_s: number;
  multiplier: number;
}

export type MisfirePolicy = "skip" | "run_once" | "run_all";

export interface JobSpec {
  name: string;
  description?: string;
  schedules: ScheduleSpec[];
  action: ActionSpec;
  retry?: RetrySpec;
  max_concurrent?: number;
  misfire?: { policy: MisfirePolicy; grace_s: number };
  paused?: boolean;
  labels?: Record<string, string>;
}

export type JobState = "active" | "paused" | "finished";

export interface Job extends Required<Omit<JobSpec, "paused" | "description">> {
  id: string;
  description: string;
  state: JobState;
  revision: number;
  next_fire_at: string | null;
  anchor: string;
  created_at: string;
  updated_at: string;
}

export type ExecutionStatus =
  | "claimed"
  | "running"
  | "retrying"
  | "succeeded"
  | "failed"
  | "missed"
  | "skipped"
  | "interrupted"; // its node died; a takeover execution ran the slot again

export interface Execution {
  id: string;
  job_id: string;
  trigger: "schedule" | "manual" | "takeover";
  scheduled_time: string;
  fire_time: string;
  fired_at: string | null;
  finished_at: string | null;
  node: string | null;
  attempt: number;
  status: ExecutionStatus;
  duration_ms: number | null;
  response: Record<string, unknown> | null;
  error: string | null;
  takeovers: number;
  attempt_errors: string[];
  misfire: string | null;
}

// -- the form ---------------------------------------------------------------------------------

export type ScheduleKind = "cron" | "interval" | "at";
export const INTERVAL_UNITS = ["seconds", "minutes", "hours", "days", "weeks"] as const;
export type IntervalUnit = (typeof INTERVAL_UNITS)[number];
const UNIT_SECONDS: Record<IntervalUnit, number> = { seconds: 1, minutes: 60, hours: 3600, days: 86400, weeks: 604800 };

export interface ScheduleForm {
  kind: ScheduleKind;
  cron: string;
  every: string;
  unit: IntervalUnit;
  /** Wall times (`YYYY-MM-DDTHH:mm[:ss]`, as a datetime-local input gives them) in `timezone`. */
  at: string;
  timezone: string;
  start: string;
  end: string;
  jitter: string;
}

export interface KeyValue {
  key: string;
  value: string;
}

export interface ActionForm {
  type: "http" | "kafka";
  method: string;
  url: string;
  auth: "auto" | "service" | "none";
  expectedStatus: string;
  /** JSON text: the HTTP body or the Kafka value; empty means none. */
  payload: string;
  topic: string;
  key: string;
  headers: KeyValue[];
  timeout: string;
}

export interface JobForm {
  name: string;
  description: string;
  schedules: ScheduleForm[];
  action: ActionForm;
  maxAttempts: string;
  backoff: string;
  multiplier: string;
  maxBackoff: string;
  maxConcurrent: string;
  misfirePolicy: MisfirePolicy;
  grace: string;
  labels: KeyValue[];
  paused: boolean;
}

export const HTTP_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] as const;

export function newScheduleForm(timezone = "UTC"): ScheduleForm {
  return { kind: "cron", cron: "0 6 * * *", every: "1", unit: "hours", at: "", timezone, start: "", end: "", jitter: "" };
}

export function newJobForm(timezone = "UTC"): JobForm {
  return {
    name: "",
    description: "",
    schedules: [newScheduleForm(timezone)],
    action: {
      type: "http",
      method: "POST",
      url: "",
      auth: "auto",
      expectedStatus: "",
      payload: "",
      topic: "",
      key: "",
      headers: [],
      timeout: "",
    },
    maxAttempts: "3",
    backoff: "1",
    multiplier: "2",
    maxBackoff: "60",
    maxConcurrent: "1",
    misfirePolicy: "run_once",
    grace: "30",
    labels: [],
    paused: false,
  };
}

// -- wall times ---------------------------------------------------------------------------------

const OFFSET = /(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * An ISO time as the wall time a datetime-local input shows, in `timeZone`.
 * Naive values (ecron keeps them as given) are already wall times.
 */
export function isoToWallTime(iso: string | null | undefined, timeZone: string): string {
  if (!iso) return "";
  if (!OFFSET.test(iso)) return trimSeconds(iso.replace(" ", "T").replace(/\.\d+$/, ""));
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "";
  let parts: Intl.DateTimeFormatPart[];
  try {
    parts = new Intl.DateTimeFormat("en-CA", {
      timeZone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
    }).formatToParts(date);
  } catch {
    return trimSeconds(date.toISOString().slice(0, 19));
  }
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "00";
  return trimSeconds(`${part("year")}-${part("month")}-${part("day")}T${part("hour")}:${part("minute")}:${part("second")}`);
}

function trimSeconds(wall: string): string {
  return wall.length === 19 && wall.endsWith(":00") ? wall.slice(0, 16) : wall;
}

/** A wall time from the form as ecron reads it: naive (in the schedule's timezone), with seconds. */
export function wallTimeToApi(wall: string): string {
  const text = wall.trim();
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/.test(text) ? `${text}:00` : text;
}

const WALL_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;

// -- intervals ---------------------------------------------------------------------------------

export function intervalSeconds(interval: IntervalSpec): number {
  return (
    (interval.weeks ?? 0) * 604800 +
    (interval.days ?? 0) * 86400 +
    (interval.hours ?? 0) * 3600 +
    (interval.minutes ?? 0) * 60 +
    (interval.seconds ?? 0)
  );
}

/** The largest unit that divides the interval evenly: 5400 s is 90 minutes. */
export function intervalToAmount(interval: IntervalSpec): { every: string; unit: IntervalUnit } {
  const total = intervalSeconds(interval);
  for (const unit of [...INTERVAL_UNITS].reverse()) {
    const size = UNIT_SECONDS[unit];
    if (total >= size && total % size === 0) return { every: String(total / size), unit };
  }
  return { every: String(total), unit: "seconds" };
}

export function describeInterval(interval: IntervalSpec): string {
  const { every, unit } = intervalToAmount(interval);
  return every === "1" ? `every ${unit.replace(/s$/, "")}` : `every ${every} ${unit}`;
}

// -- form -> API --------------------------------------------------------------------------------

export type FieldErrors = Record<string, string>;

function numberField(
  errors: FieldErrors,
  key: string,
  text: string,
  { min, integer, label }: { min?: number; integer?: boolean; label: string },
): number | undefined {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const value = Number(trimmed);
  if (!Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    errors[key] = `${label} must be ${integer ? "a whole number" : "a number"}`;
    return undefined;
  }
  if (min !== undefined && value < min) {
    errors[key] = `${label} must be at least ${min}`;
    return undefined;
  }
  return value;
}

function jsonField(errors: FieldErrors, key: string, text: string, label: string): unknown {
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (error) {
    errors[key] = `${label} is not valid JSON: ${error instanceof Error ? error.message : String(error)}`;
    return undefined;
  }
}

export function keyValuesToRecord(rows: KeyValue[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (const row of rows) if (row.key.trim() !== "") record[row.key.trim()] = row.value;
  return record;
}

export function recordToKeyValues(record: Record<string, string> | null | undefined): KeyValue[] {
  return Object.entries(record ?? {}).map(([key, value]) => ({ key, value }));
}

export function scheduleFormToSpec(form: ScheduleForm, errors: FieldErrors, prefix: string): ScheduleSpec {
  const spec: ScheduleSpec = { timezone: form.timezone.trim() || "UTC" };
  if (form.kind === "cron") {
    if (form.cron.trim() === "") errors[`${prefix}.cron`] = "Enter a cron expression, e.g. 0 6 * * *";
    spec.cron = form.cron.trim().replace(/\s+/g, " ");
  } else if (form.kind === "interval") {
    const every = numberField(errors, `${prefix}.every`, form.every, { min: 1, label: "The interval" });
    if (form.every.trim() === "") errors[`${prefix}.every`] = "Enter how often the job fires";
    spec.interval = { [form.unit]: every ?? 0 };
  } else {
    if (form.at.trim() === "") errors[`${prefix}.at`] = "Enter when the job fires";
    else if (!WALL_TIME.test(form.at.trim())) errors[`${prefix}.at`] = "Enter a date and time";
    spec.at = wallTimeToApi(form.at);
  }
  for (const [field, key] of [
    ["start", "start_date"],
    ["end", "end_date"],
  ] as const) {
    const text = form[field].trim();
    if (text === "") continue;
    if (!WALL_TIME.test(text)) errors[`${prefix}.${field}`] = "Enter a date and time";
    spec[key] = wallTimeToApi(text);
  }
  const jitter = numberField(errors, `${prefix}.jitter`, form.jitter, { min: 0, label: "Jitter" });
  if (jitter !== undefined && jitter > 0) spec.jitter_s = jitter;
  return spec;
}

/** The schedules for ecron's preview, or the field errors that keep them from being asked about. */
export function schedulesForPreview(forms: ScheduleForm[]): { schedules: ScheduleSpec[] | null; errors: FieldErrors } {
  const errors: FieldErrors = {};
  const schedules = forms.map((form, index) => scheduleFormToSpec(form, errors, `schedules.${index}`));
  return { schedules: Object.keys(errors).length === 0 && schedules.length > 0 ? schedules : null, errors };
}

function actionFormToSpec(form: ActionForm, errors: FieldErrors): ActionSpec {
  const headers = keyValuesToRecord(form.headers);
  const timeout = numberField(errors, "action.timeout", form.timeout, { min: 0.001, label: "The timeout" });
  if (form.type === "kafka") {
    if (form.topic.trim() === "") errors["action.topic"] = "Enter the topic to send to";
    const value = jsonField(errors, "action.payload", form.payload, "The message value");
    const spec: KafkaActionSpec = { type: "kafka", topic: form.topic.trim(), headers };
    if (form.key.trim() !== "") spec.key = form.key;
    if (value !== undefined) spec.value = value;
    if (timeout !== undefined) spec.timeout_s = timeout;
    return spec;
  }
  if (form.url.trim() === "") errors["action.url"] = "Enter the URL to call";
  else if (!/^https?:\/\/[^\s/]+/.test(form.url.trim())) errors["action.url"] = "The URL must start with http:// or https://";
  const body = jsonField(errors, "action.payload", form.payload, "The body");
  const expected: number[] = [];
  for (const part of form.expectedStatus.split(/[\s,]+/).filter(Boolean)) {
    const status = Number(part);
    if (!Number.isInteger(status) || status < 100 || status > 599) errors["action.expectedStatus"] = `${part} is not an HTTP status`;
    else expected.push(status);
  }
  const spec: HttpActionSpec = { type: "http", method: form.method, url: form.url.trim(), headers, auth: form.auth, expected_status: expected };
  if (body !== undefined) spec.body = body;
  if (timeout !== undefined) spec.timeout_s = timeout;
  return spec;
}

export function formToJobSpec(form: JobForm): { spec: JobSpec | null; errors: FieldErrors } {
  const errors: FieldErrors = {};
  if (form.name.trim() === "") errors.name = "Give the job a name";
  if (form.schedules.length === 0) errors.schedules = "Add at least one schedule";
  const schedules = form.schedules.map((schedule, index) => scheduleFormToSpec(schedule, errors, `schedules.${index}`));
  const action = actionFormToSpec(form.action, errors);
  const maxAttempts = numberField(errors, "maxAttempts", form.maxAttempts, { min: 1, integer: true, label: "Attempts" });
  const backoff = numberField(errors, "backoff", form.backoff, { min: 0, label: "Backoff" });
  const multiplier = numberField(errors, "multiplier", form.multiplier, { min: 1, label: "The multiplier" });
  const maxBackoff = numberField(errors, "maxBackoff", form.maxBackoff, { min: 0, label: "The longest backoff" });
  const maxConcurrent = numberField(errors, "maxConcurrent", form.maxConcurrent, { min: 1, integer: true, label: "Concurrency" });
  const grace = numberField(errors, "grace", form.grace, { min: 0, label: "The grace time" });
  const spec: JobSpec = {
    name: form.name.trim(),
    description: form.description,
    schedules,
    action,
    retry: { max_attempts: maxAttempts ?? 3, backoff_s: backoff ?? 1, multiplier: multiplier ?? 2, max_backoff_s: maxBackoff ?? 60 },
    max_concurrent: maxConcurrent ?? 1,
    misfire: { policy: form.misfirePolicy, grace_s: grace ?? 30 },
    labels: keyValuesToRecord(form.labels),
    paused: form.paused,
  };
  return { spec: Object.keys(errors).length === 0 ? spec : null, errors };
}

// -- API -> form --------------------------------------------------------------------------------

export function scheduleSpecToForm(spec: ScheduleSpec): ScheduleForm {
  const timezone = spec.timezone || "UTC";
  const form: ScheduleForm = { ...newScheduleForm(timezone), cron: "" };
  if (spec.interval) {
    form.kind = "interval";
    Object.assign(form, intervalToAmount(spec.interval));
  } else if (spec.at) {
    form.kind = "at";
    form.at = isoToWallTime(spec.at, timezone);
  } else {
    form.kind = "cron";
    form.cron = spec.cron ?? "";
  }
  form.start = isoToWallTime(spec.start_date, timezone);
  form.end = isoToWallTime(spec.end_date, timezone);
  form.jitter = spec.jitter_s ? String(spec.jitter_s) : "";
  return form;
}

export function jobToForm(job: Job): JobForm {
  const form = newJobForm();
  const action = job.action;
  const payload = action.type === "http" ? action.body : action.value;
  return {
    ...form,
    name: job.name,
    description: job.description ?? "",
    schedules: job.schedules.map(scheduleSpecToForm),
    action: {
      ...form.action,
      type: action.type,
      method: action.type === "http" ? (action.method ?? "POST") : form.action.method,
      url: action.type === "http" ? action.url : "",
      auth: action.type === "http" ? (action.auth ?? "auto") : "auto",
      expectedStatus: action.type === "http" ? (action.expected_status ?? []).join(", ") : "",
      payload: payload === undefined || payload === null ? "" : JSON.stringify(payload, null, 2),
      topic: action.type === "kafka" ? action.topic : "",
      key: action.type === "kafka" ? (action.key ?? "") : "",
      headers: recordToKeyValues(action.headers),
      timeout: action.timeout_s !== undefined ? String(action.timeout_s) : "",
    },
    maxAttempts: String(job.retry.max_attempts),
    backoff: String(job.retry.backoff_s),
    multiplier: String(job.retry.multiplier),
    maxBackoff: String(job.retry.max_backoff_s),
    maxConcurrent: String(job.max_concurrent),
    misfirePolicy: job.misfire.policy,
    grace: String(job.misfire.grace_s),
    labels: recordToKeyValues(job.labels),
    paused: job.state === "paused",
  };
}

/**
 * A server-side field path (`schedules.0.cron`, `action.http.url`,
 * `retry.max_attempts`) as the form's key, so a 422 lands on its input.
 */
export function formFieldOf(path: string): string {
  const parts = path.split(".");
  if (parts[0] === "schedule") parts.splice(0, 1, "schedules", "0");
  if (parts[0] === "schedules" && /^\d+$/.test(parts[1] ?? "")) {
    const field = parts[2];
    const named: Record<string, string> = { start_date: "start", end_date: "end", jitter_s: "jitter", interval: "every" };
    return field ? `schedules.${parts[1]}.${named[field] ?? field}` : `schedules.${parts[1]}`;
  }
  if (parts[0] === "action") {
    const rest = parts.slice(parts[1] === "http" || parts[1] === "kafka" ? 2 : 1);
    const named: Record<string, string> = { body: "payload", value: "payload", expected_status: "expectedStatus", timeout_s: "timeout" };
    return rest.length ? `action.${named[rest[0]] ?? rest[0]}` : "action";
  }
  const top: Record<string, string> = {
    "retry.max_attempts": "maxAttempts",
    "retry.backoff_s": "backoff",
    "retry.multiplier": "multiplier",
    "retry.max_backoff_s": "maxBackoff",
    max_concurrent: "maxConcurrent",
    "misfire.grace_s": "grace",
    "misfire.policy": "misfirePolicy",
  };
  return top[parts.slice(0, 2).join(".")] ?? top[parts[0]] ?? parts[0];
}

// -- display ------------------------------------------------------------------------------------

/** A schedule in words: "At 06:00 (0 6 * * *) · Asia/Seoul". */
export function describeSchedule(spec: ScheduleSpec): string {
  let text: string;
  if (spec.interval) text = describeInterval(spec.interval);
  else if (spec.at) text = `once at ${spec.at.replace("T", " ").replace(/:00(\.0+)?(Z|[+-]\d{2}:\d{2})?$/, "$2")}`;
  else {
    const described = describeCron(spec.cron ?? "");
    text = described.ok ? `${described.text} (${spec.cron})` : (spec.cron ?? "");
  }
  const zone = spec.timezone && spec.timezone !== "UTC" ? spec.timezone : "UTC";
  return `${text} · ${zone}`;
}

/** "850 ms", "1.2 s", "2 min 5 s", "—" for none. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "—";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(1) : Math.round(seconds)} s`;
  const minutes = Math.floor(seconds / 60);
  const rest = Math.round(seconds - minutes * 60);
  if (minutes < 60) return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes - hours * 60} min`;
}

/** An execution's outcome in one line: "HTTP 200 · {"id": 1}", "orders[0] @ 41", or its error. */
export function responseSummary(execution: Pick<Execution, "response" | "error" | "misfire">, maxChars = 120): string {
  const response = execution.response;
  if (response && typeof response === "object") {
    if ("status_code" in response) {
      const body = typeof response.body === "string" ? response.body.replace(/\s+/g, " ").trim() : "";
      const text = `HTTP ${String(response.status_code)}${body ? ` · ${body}` : ""}`;
      return text.length > maxChars ? `${text.slice(0, maxChars - 1)}…` : text;
    }
    if ("topic" in response) return `${String(response.topic)}[${String(response.partition)}] @ ${String(response.offset)}`;
  }
  if (execution.error) return execution.error.length > maxChars ? `${execution.error.slice(0, maxChars - 1)}…` : execution.error;
  return execution.misfire ?? "";
}

export const ACTIVE_EXECUTION_STATES: readonly ExecutionStatus[] = ["claimed", "running", "retrying"];

/** The CSS state class of an execution status, sharing the Runs screen's colours. */
export function executionStateClass(status: ExecutionStatus): string {
  if (status === "missed") return "failed";
  if (status === "claimed") return "queued";
  if (status === "interrupted") return "skipped";
  return status;
}

const WEEKDAYS = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];

/**
 * A fire time as ecron wrote it (wall time with the schedule's offset), for
 * people: "Tue 2030-01-01 06:00" and "+09:00". The wall time is read from the
 * string itself, so it shows in the schedule's zone, not the browser's.
 */
export function fireTimeParts(iso: string): { wall: string; offset: string } {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?(Z|[+-]\d{2}:\d{2})?$/.exec(iso);
  if (!match) return { wall: iso, offset: "" };
  const [, year, month, day, hour, minute, second, offset] = match;
  const weekday = WEEKDAYS[new Date(Date.UTC(Number(year), Number(month) - 1, Number(day))).getUTCDay()];
  const seconds = second && second !== "00" ? `:${second}` : "";
  return { wall: `${weekday} ${year}-${month}-${day} ${hour}:${minute}${seconds}`, offset: offset === "Z" || offset === "+00:00" ? "UTC" : (offset ?? "") };
}
