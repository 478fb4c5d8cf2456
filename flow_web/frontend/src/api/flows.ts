/** flow_automation's flows API, typed (flow_automation/api/flows.py). */
import { ApiClient, errorFromResponse } from "./client";
import type { FlowDefinition, FlowDetail, FlowSummary, NodeTypeList, Page, VersionDetail, VersionSummary } from "./types";
import type { FlowDiff } from "../lib/diff";

const FA = "flow_automation" as const;

export function listFlows(api: ApiClient, query: { q?: string; cursor?: string | null; limit?: number }) {
  return api.get<Page<FlowSummary>>(FA, "/api/v1/flows", { q: query.q, cursor: query.cursor ?? undefined, limit: query.limit ?? 50 });
}

export function getFlow(api: ApiClient, flowId: string, version?: number) {
  return api.get<FlowDetail>(FA, `/api/v1/flows/${encodeURIComponent(flowId)}`, { version });
}

export function createFlow(api: ApiClient, definition: FlowDefinition) {
  return api.post<FlowDetail>(FA, "/api/v1/flows", definition);
}

/** A new version (none when unchanged); 409 when `baseVersion` is no longer the latest. */
export function saveFlow(api: ApiClient, flowId: string, definition: FlowDefinition, baseVersion?: number) {
  return api.put<FlowDetail>(FA, `/api/v1/flows/${encodeURIComponent(flowId)}`, definition, { base_version: baseVersion });
}

export function deleteFlow(api: ApiClient, flowId: string, force = false) {
  return api.delete<{ id: string; deleted: boolean; canceled_runs: string[] }>(FA, `/api/v1/flows/${encodeURIComponent(flowId)}`, {
    force: force || undefined,
  });
}

export function listVersions(api: ApiClient, flowId: string, cursor?: string | null) {
  return api.get<Page<VersionSummary>>(FA, `/api/v1/flows/${encodeURIComponent(flowId)}/versions`, { cursor: cursor ?? undefined, limit: 50 });
}

export function getVersion(api: ApiClient, flowId: string, version: number) {
  return api.get<VersionDetail>(FA, `/api/v1/flows/${encodeURIComponent(flowId)}/versions/${version}`);
}

export function diffVersions(api: ApiClient, flowId: string, from: number, to: number) {
  return api.get<{ flow_id: string; from: number; to: number; changes: FlowDiff }>(FA, `/api/v1/flows/${encodeURIComponent(flowId)}/diff`, { from, to });
}

export function nodeTypes(api: ApiClient) {
  return api.get<NodeTypeList>(FA, "/api/v1/node-types");
}

/** The flow as a file: its name from the server's Content-Disposition, its text as a Blob. */
export async function exportFlow(api: ApiClient, flowId: string, format: "yaml" | "json"): Promise<{ filename: string; blob: Blob }> {
  const response = await api.send(FA, `/api/v1/flows/${encodeURIComponent(flowId)}/export`, {
    query: { format },
    headers: { Accept: "*/*" },
  });
  if (!response.ok) throw await errorFromResponse(response);
  const disposition = response.headers.get("Content-Disposition") ?? "";
  const filename = /filename="([^"]+)"/.exec(disposition)?.[1] ?? `${flowId}.${format}`;
  return { filename, blob: await response.blob() };
}

/** Import a JSON or YAML flow file (a new flow, or a new version of the flow it names). */
export function importFlow(api: ApiClient, file: File) {
  const form = new FormData();
  form.append("file", file, file.name);
  return api.request<FlowDetail>(FA, "/api/v1/flows/import", { method: "POST", body: form });
}

export function validateFlow(api: ApiClient, definition: FlowDefinition) {
  return api.post<{ valid: boolean }>(FA, "/api/v1/flows/validate", definition);
}
