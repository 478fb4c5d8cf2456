import { describe, expect, it } from "vitest";
import {
  describeSchedule,
  executionStateClass,
  formFieldOf,
  fireTimeParts,
  formatDuration,
  formToJobSpec,
  intervalToAmount,
  isoToWallTime,
  jobToForm,
  newJobForm,
  responseSummary,
  schedulesForPreview,
  type Job,
} from "./cronJobs";

const JOB: Job = {
  id: "j1",
  name: "nightly",
  description: "the report",
  schedules: [
    { cron: "0 6 * * *", interval: null, at: null, timezone: "Asia/Seoul", start_date: "2030-01-01T10:00:00", end_date: null, jitter_s: 5 },
    { cron: null, interval: { weeks: 0, days: 0, hours: 1, minutes: 30, seconds: 0 }, at: null, timezone: "UTC", start_date: "2030-01-01T00:00:00Z", end_date: null, jitter_s: 0 },
  ],
  action: { type: "kafka", topic: "reports", key: "{{job_id}}", value: { day: "{{scheduled_time}}" }, headers: { a: "b" }, timeout_s: 10 },
  retry: { max_attempts: 5, backoff_s: 2, max_backoff_s: 30, multiplier: 3 },
  max_concurrent: 2,
  misfire: { policy: "skip", grace_s: 10 },
  labels: { flow_id: "sales" },
  state: "paused",
  revision: 3,
  next_fire_at: null,
  anchor: "2030-01-01T00:00:00Z",
  created_at: "2030-01-01T00:00:00Z",
  updated_at: "2030-01-01T00:00:00Z",
};

describe("job form <-> API", () => {
  it("maps a new form to ecron's JobSpec with server defaults", () => {
    const form = newJobForm("Europe/Paris");
    form.name = " nightly ";
    form.action.url = "http://127.0.0.1:8081/api/v1/flows/sales/runs";
    form.action.payload = '{"params": {"day": "{{scheduled_time}}"}}';
    form.action.expectedStatus = "200, 202";
    form.action.headers = [{ key: "X-Team", value: "data" }, { key: " ", value: "ignored" }];
    const { spec, errors } = formToJobSpec(form);
    expect(errors).toEqual({});
    expect(spec).toEqual({
      name: "nightly",
      description: "",
      schedules: [{ cron: "0 6 * * *", timezone: "Europe/Paris" }],
      action: {
        type: "http",
        method: "POST",
        url: "http://127.0.0.1:8081/api/v1/flows/sales/runs",
        headers: { "X-Team": "data" },
        auth: "auto",
        expected_status: [200, 202],
        body: { params: { day: "{{scheduled_time}}" } },
      },
      retry: { max_attempts: 3, backoff_s: 1, multiplier: 2, max_backoff_s: 60 },
      max_concurrent: 1,
      misfire: { policy: "run_once", grace_s: 30 },
      labels: {},
      paused: false,
    });
  });

  it("names every field it cannot read", () => {
    const form = newJobForm();
    form.schedules[0] = { ...form.schedules[0], kind: "interval", every: "0" };
    form.schedules.push({ ...form.schedules[0], kind: "at", at: "" });
    form.action.url = "ftp://x";
    form.action.payload = "{nope";
    form.maxAttempts = "1.5";
    const { spec, errors } = formToJobSpec(form);
    expect(spec).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(["action.payload", "action.url", "maxAttempts", "name", "schedules.0.every", "schedules.1.at"]);
    expect(errors["action.payload"]).toContain("not valid JSON");
  });

  it("round-trips a stored job through the form", () => {
    const form = jobToForm(JOB);
    expect(form.paused).toBe(true);
    expect(form.schedules[0]).toMatchObject({ kind: "cron", cron: "0 6 * * *", timezone: "Asia/Seoul", start: "2030-01-01T10:00", jitter: "5" });
    expect(form.schedules[1]).toMatchObject({ kind: "interval", every: "90", unit: "minutes", start: "2030-01-01T00:00" });
    expect(form.action).toMatchObject({ type: "kafka", topic: "reports", key: "{{job_id}}", timeout: "10" });
    const { spec, errors } = formToJobSpec(form);
    expect(errors).toEqual({});
    expect(spec!.schedules).toEqual([
      { cron: "0 6 * * *", timezone: "Asia/Seoul", start_date: "2030-01-01T10:00:00", jitter_s: 5 },
      { interval: { minutes: 90 }, timezone: "UTC", start_date: "2030-01-01T00:00:00" },
    ]);
    expect(spec!.action).toEqual({ type: "kafka", topic: "reports", key: "{{job_id}}", value: { day: "{{scheduled_time}}" }, headers: { a: "b" }, timeout_s: 10 });
    expect(spec!.retry).toEqual(JOB.retry);
    expect(spec!.misfire).toEqual(JOB.misfire);
    expect(spec!.labels).toEqual(JOB.labels);
    expect(spec!.max_concurrent).toBe(2);
  });

  it("builds the preview request only from readable schedules", () => {
    const form = newJobForm();
    expect(schedulesForPreview(form.schedules)).toEqual({ schedules: [{ cron: "0 6 * * *", timezone: "UTC" }], errors: {} });
    form.schedules[0].cron = "  ";
    const blank = schedulesForPreview(form.schedules);
    expect(blank.schedules).toBeNull();
    expect(blank.errors["schedules.0.cron"]).toBeDefined();
    form.schedules[0] = { ...form.schedules[0], kind: "at", at: "2031-02-03T04:05", timezone: "Asia/Seoul" };
    expect(schedulesForPreview(form.schedules).schedules).toEqual([{ at: "2031-02-03T04:05:00", timezone: "Asia/Seoul" }]);
  });

  it("places server field paths on the form's inputs", () => {
    expect(formFieldOf("schedules.0.cron")).toBe("schedules.0.cron");
    expect(formFieldOf("schedule.jitter_s")).toBe("schedules.0.jitter");
    expect(formFieldOf("schedules.1")).toBe("schedules.1");
    expect(formFieldOf("schedules.2.interval.seconds")).toBe("schedules.2.every");
    expect(formFieldOf("action.http.url")).toBe("action.url");
    expect(formFieldOf("action.kafka.value")).toBe("action.payload");
    expect(formFieldOf("retry.max_attempts")).toBe("maxAttempts");
    expect(formFieldOf("name")).toBe("name");
  });
});

describe("wall times and intervals", () => {
  it("shows aware times as wall times in the schedule's zone and keeps naive ones", () => {
    expect(isoToWallTime("2030-01-01T00:00:00Z", "Asia/Seoul")).toBe("2030-01-01T09:00");
    expect(isoToWallTime("2030-07-01T12:30:15+00:00", "Europe/Paris")).toBe("2030-07-01T14:30:15");
    expect(isoToWallTime("2030-01-01T10:00:00", "Asia/Seoul")).toBe("2030-01-01T10:00");
    expect(isoToWallTime(null, "UTC")).toBe("");
  });

  it("picks the largest unit that divides an interval", () => {
    expect(intervalToAmount({ hours: 1, minutes: 30 })).toEqual({ every: "90", unit: "minutes" });
    expect(intervalToAmount({ days: 14 })).toEqual({ every: "2", unit: "weeks" });
    expect(intervalToAmount({ seconds: 45 })).toEqual({ every: "45", unit: "seconds" });
  });
});

describe("display", () => {
  it("describes schedules in words", () => {
    expect(describeSchedule({ cron: "0 6 * * *", timezone: "Asia/Seoul" })).toBe("At 06:00 (0 6 * * *) · Asia/Seoul");
    expect(describeSchedule({ interval: { minutes: 1 } })).toBe("every minute · UTC");
    expect(describeSchedule({ interval: { hours: 2 }, timezone: "UTC" })).toBe("every 2 hours · UTC");
    expect(describeSchedule({ at: "2031-02-03T04:05:00Z" })).toBe("once at 2031-02-03 04:05Z · UTC");
  });

  it("formats durations", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(850.4)).toBe("850 ms");
    expect(formatDuration(1234)).toBe("1.2 s");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
    expect(formatDuration(3 * 3600_000 + 60_000)).toBe("3 h 1 min");
  });

  it("summarises responses, errors and misfires", () => {
    expect(responseSummary({ response: { status_code: 200, body: '{"ok":\n true}' }, error: null, misfire: null })).toBe('HTTP 200 · {"ok": true}');
    expect(responseSummary({ response: { topic: "t", partition: 0, offset: 41 }, error: null, misfire: null })).toBe("t[0] @ 41");
    expect(responseSummary({ response: null, error: "connection refused", misfire: null })).toBe("connection refused");
    expect(responseSummary({ response: { status_code: 500, body: "x".repeat(500) }, error: null, misfire: null }, 20)).toHaveLength(20);
    expect(responseSummary({ response: null, error: null, misfire: "late" })).toBe("late");
    expect(executionStateClass("missed")).toBe("failed");
    expect(executionStateClass("succeeded")).toBe("succeeded");
    expect(executionStateClass("interrupted")).toBe("skipped");
  });
});

describe("fireTimeParts", () => {
  it("keeps the schedule's wall time and names its offset", () => {
    expect(fireTimeParts("2030-01-01T06:00:00+09:00")).toEqual({ wall: "Tue 2030-01-01 06:00", offset: "+09:00" });
    expect(fireTimeParts("2030-01-05T06:00:30Z")).toEqual({ wall: "Sat 2030-01-05 06:00:30", offset: "UTC" });
    expect(fireTimeParts("garbage")).toEqual({ wall: "garbage", offset: "" });
  });
});
