/** stream_pipeline's API (stream_pipeline/api/, stream_pipeline/README.md), as the Streams screen calls it. */
import type { DeadLetter, Pipeline, PipelineSpec, PipelineStatus, PreviewResult, StepSpec } from "../lib/streams";
import type { ApiClient } from "./client";
import type { Page } from "./types";

const PIPELINES = "/api/v1/pipelines";
const pipeline = (id: string) => `${PIPELINES}/${encodeURIComponent(id)}`;

export function listPipelines(api: ApiClient, options: { cursor?: string | null; limit?: number } = {}): Promise<Page<Pipeline>> {
  return api.get<Page<Pipeline>>("stream_pipeline", PIPELINES, { limit: options.limit ?? 50, cursor: options.cursor });
}

export const getPipeline = (api: ApiClient, id: string) => api.get<Pipeline>("stream_pipeline", pipeline(id));
export const createPipeline = (api: ApiClient, spec: PipelineSpec) => api.post<Pipeline>("stream_pipeline", PIPELINES, spec);
export const replacePipeline = (api: ApiClient, id: string, spec: PipelineSpec) => api.put<Pipeline>("stream_pipeline", pipeline(id), spec);
export const deletePipeline = (api: ApiClient, id: string) => api.delete<void>("stream_pipeline", pipeline(id));
export const startPipeline = (api: ApiClient, id: string) => api.post<Pipeline>("stream_pipeline", `${pipeline(id)}/start`);
export const stopPipeline = (api: ApiClient, id: string) => api.post<Pipeline>("stream_pipeline", `${pipeline(id)}/stop`);

export function pipelineStatus(api: ApiClient, id: string, signal?: AbortSignal): Promise<PipelineStatus> {
  return api.request<PipelineStatus>("stream_pipeline", `${pipeline(id)}/status`, { signal });
}

/** The steps (the saved ones, or `steps` as edited) run on sample messages; nothing is written anywhere. */
export function previewPipeline(
  api: ApiClient,
  id: string,
  body: { messages: unknown[]; raw?: boolean; steps?: StepSpec[]; drain?: boolean },
): Promise<PreviewResult> {
  return api.post<PreviewResult>("stream_pipeline", `${pipeline(id)}/preview`, body);
}

export function listDeadLetters(
  api: ApiClient,
  id: string,
  options: { limit?: number; partition?: number | null; before?: number | null } = {},
): Promise<{ topic: string; items: DeadLetter[] }> {
  return api.get("stream_pipeline", `${pipeline(id)}/dead-letters`, { limit: options.limit ?? 50, partition: options.partition, before: options.before });
}

/** Replays the given dead letters, or (without `offsets`) every one not replayed yet. */
export function replayDeadLetters(
  api: ApiClient,
  id: string,
  offsets?: { partition: number; offset: number }[],
): Promise<{ replayed: number; topic: string; remaining: number | null }> {
  return api.post("stream_pipeline", `${pipeline(id)}/dead-letters/replay`, offsets ? { offsets } : {});
}
