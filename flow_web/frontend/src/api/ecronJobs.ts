/** ecron's jobs API (ecron/api/jobs.py, ecron/README.md), as the Cron screen calls it. */
import type { Execution, Job, JobSpec, ScheduleSpec } from "../lib/cronJobs";
import type { ApiClient } from "./client";
import type { Page } from "./types";

const JOBS = "/api/v1/jobs";
const job = (id: string) => `${JOBS}/${encodeURIComponent(id)}`;

export function listJobs(api: ApiClient, options: { cursor?: string | null; limit?: number; name?: string } = {}): Promise<Page<Job>> {
  return api.get<Page<Job>>("ecron", JOBS, { limit: options.limit ?? 50, cursor: options.cursor, name: options.name });
}

export const getJob = (api: ApiClient, id: string) => api.get<Job>("ecron", job(id));
export const createJob = (api: ApiClient, spec: JobSpec) => api.post<Job>("ecron", JOBS, spec);
export const replaceJob = (api: ApiClient, id: string, spec: JobSpec) => api.put<Job>("ecron", job(id), spec);
export const deleteJob = (api: ApiClient, id: string) => api.delete<void>("ecron", job(id));
export const pauseJob = (api: ApiClient, id: string) => api.post<Job>("ecron", `${job(id)}/pause`);
export const resumeJob = (api: ApiClient, id: string) => api.post<Job>("ecron", `${job(id)}/resume`);

export async function runJobNow(api: ApiClient, id: string): Promise<Execution> {
  const answer = await api.post<{ execution: Execution }>("ecron", `${job(id)}/run`);
  return answer.execution;
}

export function listExecutions(api: ApiClient, id: string, options: { cursor?: string | null; limit?: number } = {}, signal?: AbortSignal): Promise<Page<Execution>> {
  return api.request<Page<Execution>>("ecron", `${job(id)}/executions`, { query: { limit: options.limit ?? 20, cursor: options.cursor }, signal });
}

/** The next fire times of schedules as typed (nothing saved); a 422 carries the parser's reason in `details`. */
export async function previewSchedules(
  api: ApiClient,
  schedules: ScheduleSpec[],
  options: { count?: number; after?: string } = {},
  signal?: AbortSignal,
): Promise<string[]> {
  const answer = await api.request<{ fire_times: string[] }>("ecron", "/api/v1/schedules/preview", {
    method: "POST",
    json: { schedules, count: options.count ?? 5, ...(options.after ? { after: options.after } : {}) },
    signal,
  });
  return answer.fire_times;
}
