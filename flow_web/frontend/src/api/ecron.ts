/** ecron's schedule preview (ecron/api/schedules.py): the next fire times of cron expressions. */
import type { ApiClient } from "./client";

export interface ScheduleSpec {
  cron: string;
  timezone?: string;
}

export async function previewFireTimes(api: ApiClient, schedules: ScheduleSpec[], count = 5, signal?: AbortSignal): Promise<string[]> {
  const body = schedules.length === 1 ? { schedule: schedules[0], count } : { schedules, count };
  const answer = await api.request<{ fire_times: string[] }>("ecron", "/api/v1/schedules/preview", {
    method: "POST",
    json: body,
    signal,
  });
  return answer.fire_times;
}
