/**
 * flow_automation's runs API, typed (flow_automation/api/runs.py and the run
 * start in api/flows.py; task previews from engine/outputs.py preview()).
 */
import type { ApiClient } from "./client";
import type { Page } from "./types";

const FA = "flow_automation" as const;

export type RunState = "queued" | "running" | "succeeded" | "failed" | "canceled";
export type TaskState =
  | "pending"
  | "ready"
  | "running"
  | "retrying"
  | "succeeded"
  | "failed"
  | "skipped"
  | "upstream_failed"
  | "canceled";

export const RUN_STATES: readonly RunState[] = ["queued", "running", "succeeded", "failed", "canceled"];

export interface RunSummary {
  id: string;
  run_id: string;
  flow_id: string;
  version: number;
  state: RunState;
  params: Record<string, unknown>;
  trigger: { type: string; [key: string]: unknown } | null;
  created_by: string | null;
  created_at: string | null;
  started_at: string | null;
  finished_at: string | null;
  attempt: number;
  parent: { run_id: string; node_id?: string } | null;
  scheduled_time: string | null;
  cancel_requested: boolean;
  task_counts: Record<string, number> | null;
}

export interface TaskError {
  type?: string;
  message: string;
  traceback?: string;
}

export interface TableColumn {
  name: string;
  type: string;
}

/** An output's preview as the run view shows it (engine/outputs.py preview() / preview_view()). */
export type OutputPreview =
  | { kind: "table"; rows: number; columns: TableColumn[]; head: Record<string, unknown>[] }
  | { kind: "text"; length: number; text: string; truncated: boolean }
  | { kind: "json"; value: unknown }
  | { kind: "json"; text: string; truncated: true }
  | { kind: "image"; media_type: string; size: number; data_base64: string }
  | { kind: "bytes"; size: number };

export interface TaskHistoryEntry {
  state: TaskState;
  at: string;
  attempt?: number;
  epoch?: number;
  executor?: string | null;
  error?: string | null;
  reason?: string;
}

export interface TaskRun {
  node_id: string;
  type: string;
  state: TaskState;
  attempts: number;
  started_at: string | null;
  finished_at: string | null;
  duration_ms: number | null;
  error: TaskError | null;
  cached: boolean | null;
  ready_at: string | null;
  outputs: Record<string, OutputPreview>;
  upstream: string[];
  history: TaskHistoryEntry[];
}

export interface RunDetail extends RunSummary {
  tasks: TaskRun[];
}

export interface TaskLogs {
  run_id: string;
  node_id: string;
  state: TaskState;
  attempt: number;
  error: TaskError | null;
  lines: string[];
}

export interface StartedRun {
  id: string;
  run_id: string;
  state: RunState;
  flow_id: string;
  version: number;
}

export interface RunListQuery {
  flow?: string;
  state?: string;
  cursor?: string | null;
  limit?: number;
}

const runPath = (runId: string) => `/api/v1/runs/${encodeURIComponent(runId)}`;

export function listRuns(api: ApiClient, query: RunListQuery, signal?: AbortSignal) {
  return api.request<Page<RunSummary>>(FA, "/api/v1/runs", {
    query: { flow: query.flow, state: query.state, cursor: query.cursor ?? undefined, limit: query.limit ?? 25 },
    signal,
  });
}

export function getRun(api: ApiClient, runId: string, signal?: AbortSignal) {
  return api.request<RunDetail>(FA, runPath(runId), { signal });
}

export function startRun(api: ApiClient, flowId: string, params: Record<string, unknown>, version?: number) {
  const body: { params: Record<string, unknown>; version?: number } = { params };
  if (version !== undefined) body.version = version;
  return api.post<StartedRun>(FA, `/api/v1/flows/${encodeURIComponent(flowId)}/runs`, body);
}

export function cancelRun(api: ApiClient, runId: string) {
  return api.post<RunDetail>(FA, `${runPath(runId)}/cancel`);
}

export function retryRun(api: ApiClient, runId: string) {
  return api.post<RunDetail>(FA, `${runPath(runId)}/retry`);
}

export function taskLogs(api: ApiClient, runId: string, nodeId: string, signal?: AbortSignal) {
  return api.request<TaskLogs>(FA, `${runPath(runId)}/tasks/${encodeURIComponent(nodeId)}/logs`, { signal });
}

/** The path of a run's Server-Sent Events stream through flow_web's proxy. */
export function runEventsPath(runId: string): string {
  return `/api/${FA}${runPath(runId)}/events`;
}
