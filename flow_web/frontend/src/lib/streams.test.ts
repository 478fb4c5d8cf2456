import { describe, expect, it } from "vitest";
import {
  SINK_TYPES,
  STEP_TYPES,
  changeComponentType,
  deadLetterValue,
  formFieldOf,
  formatCount,
  formatRate,
  formToPipelineSpec,
  healthOf,
  newComponent,
  newPipelineForm,
  parseSamples,
  pipelineToForm,
  totalsOf,
  type Pipeline,
  type PipelineStatus,
} from "./streams";

const PIPELINE: Pipeline = {
  id: "orders-clean",
  name: "orders clean",
  description: "",
  source: { topics: ["orders", "orders-eu"], group: "orders-clean", start: "latest", format: "json" },
  steps: [
    { type: "filter", name: "big", expr: "amount > 10" },
    { type: "map", name: null, set: { amount_krw: "amount * 1300" }, drop: ["debug"] },
    { type: "validate", name: null, schema: { type: "object" }, field: null, parse: true },
    { type: "dedupe", name: null, key: "id", window_s: 60, time_field: null, max_keys: 1000000, future_option: 7 },
  ],
  sink: { type: "kafka", topic: "orders-clean", key: null, partitions: 1, format: "json" },
  dead_letter_topic: "dataflow.stream.orders-clean.dlq",
  batch: { max_records: 1000, max_wait_ms: 100 },
  state: "stopped",
  version: 2,
  group: "orders-clean",
  created_at: "2030-01-01T00:00:00Z",
  updated_at: "2030-01-01T00:00:00Z",
};

describe("pipeline form <-> API", () => {
  it("maps a new pipeline, leaving empty fields to the service's defaults", () => {
    const form = newPipelineForm();
    form.name = "clicks";
    form.topics = "clicks, clicks-eu\n";
    const filter = newComponent(STEP_TYPES, "filter");
    filter.values.expr = " kind == 'buy' ";
    const map = newComponent(STEP_TYPES, "map");
    map.values.set = [{ key: "total", value: "price * qty" }, { key: "", value: "ignored" }];
    form.steps = [filter, map];
    form.sink.values.topic = "clicks-out";
    const { spec, errors } = formToPipelineSpec(form);
    expect(errors).toEqual({});
    expect(spec).toEqual({
      name: "clicks",
      description: "",
      source: { topics: ["clicks", "clicks-eu"], start: "earliest", format: "json" },
      steps: [
        { type: "filter", expr: "kind == 'buy'" },
        { type: "map", set: { total: "price * qty" } },
      ],
      sink: { type: "kafka", topic: "clicks-out" },
    });
  });

  it("names the fields it cannot read", () => {
    const form = newPipelineForm();
    form.id = "Bad Id";
    form.steps = [newComponent(STEP_TYPES, "filter"), newComponent(STEP_TYPES, "validate")];
    form.steps[1].values.schema = "{oops";
    form.maxRecords = "ten";
    const { spec, errors } = formToPipelineSpec(form);
    expect(spec).toBeNull();
    expect(Object.keys(errors).sort()).toEqual(["id", "maxRecords", "name", "sink.topic", "steps.0.expr", "steps.1.schema", "topics"]);
  });

  it("round-trips a stored pipeline, keeping fields the form does not know", () => {
    const form = pipelineToForm(PIPELINE);
    expect(form.topics).toBe("orders, orders-eu");
    expect(form.steps[0]).toMatchObject({ type: "filter", name: "big", values: { expr: "amount > 10" } });
    expect(form.steps[1].values.set).toEqual([{ key: "amount_krw", value: "amount * 1300" }]);
    expect(form.steps[3].extra).toEqual({ future_option: 7 });
    const { spec, errors } = formToPipelineSpec(form);
    expect(errors).toEqual({});
    expect(spec!.id).toBe("orders-clean");
    expect(spec!.source).toEqual({ topics: ["orders", "orders-eu"], group: "orders-clean", start: "latest", format: "json" });
    expect(spec!.steps).toEqual([
      { type: "filter", name: "big", expr: "amount > 10" },
      { type: "map", set: { amount_krw: "amount * 1300" }, drop: ["debug"] },
      { type: "validate", schema: { type: "object" }, parse: true },
      { type: "dedupe", key: "id", window_s: 60, max_keys: 1000000, future_option: 7 },
    ]);
    expect(spec!.sink).toEqual({ type: "kafka", topic: "orders-clean", partitions: 1, format: "json" });
    expect(spec!.batch).toEqual({ max_records: 1000, max_wait_ms: 100 });
    expect(spec!.dead_letter_topic).toBe("dataflow.stream.orders-clean.dlq");
  });

  it("keeps shared values when a step changes type", () => {
    const tumbling = newComponent(STEP_TYPES, "tumbling_window");
    tumbling.values.size_s = "30";
    tumbling.name = "per minute";
    const sliding = changeComponentType(STEP_TYPES, tumbling, "sliding_window");
    expect(sliding).toMatchObject({ type: "sliding_window", name: "per minute", values: { size_s: "30", slide_s: "10" } });
    expect(newComponent(SINK_TYPES, "http").values.headers).toEqual([]);
  });

  it("places server field paths on the form's inputs", () => {
    expect(formFieldOf("steps.0.filter.expr")).toBe("steps.0.expr");
    expect(formFieldOf("steps.2")).toBe("steps.2");
    expect(formFieldOf("sink.kafka.topic")).toBe("sink.topic");
    expect(formFieldOf("source.topics")).toBe("topics");
    expect(formFieldOf("source")).toBe("topics");
    expect(formFieldOf("dead_letter_topic")).toBe("deadLetterTopic");
    expect(formFieldOf("batch.max_records")).toBe("maxRecords");
  });
});

describe("parseSamples", () => {
  it("reads a JSON array or one JSON value per line", () => {
    expect(parseSamples('[{"a": 1}, 2]', false)).toEqual({ messages: [{ a: 1 }, 2] });
    expect(parseSamples('{"a": 1}\n\n{"a": 2}\n', false)).toEqual({ messages: [{ a: 1 }, { a: 2 }] });
    const bad = parseSamples('{"a": 1}\nnot json', false);
    expect("error" in bad && bad.error).toContain("Line 2");
    expect("error" in parseSamples("  ", false)).toBe(true);
  });

  it("sends lines as strings when raw", () => {
    expect(parseSamples("not json\n{\"a\": 1}\n", true)).toEqual({ messages: ["not json", '{"a": 1}'] });
    expect("error" in parseSamples("\n", true)).toBe(true);
  });
});

function status(change: Partial<PipelineStatus> = {}): PipelineStatus {
  return {
    pipeline_id: "p",
    state: "running",
    version: 2,
    group: "p",
    running_version: 2,
    workers: [
      {
        worker_id: "w1",
        state: "running",
        version: 2,
        heartbeat_at: "2030-01-01T00:00:00Z",
        partitions: [{ topic: "t", partition: 0 }],
        totals: { in: 10, out: 8, dead_letters: 2, batches: 3 },
        rates: { in_per_s: 1, out_per_s: 0.8, dead_letters_per_s: 0.2 },
        last_error: null,
      },
      {
        worker_id: "w2",
        state: "running",
        version: 2,
        heartbeat_at: "2030-01-01T00:00:00Z",
        partitions: [],
        totals: { in: 5, out: 5 },
        rates: { in_per_s: 0, out_per_s: 0, dead_letters_per_s: 0 },
        last_error: null,
      },
    ],
    partitions: [],
    lag: 0,
    rates: { in_per_s: 1, out_per_s: 0.8, dead_letters_per_s: 0.2 },
    last_error: null,
    kafka_error: null,
    ...change,
  };
}

describe("status in words", () => {
  it("sums the workers' counters", () => {
    expect(totalsOf(status())).toEqual({ in: 15, out: 13, dead_letters: 2 });
    expect(totalsOf(status({ workers: [] }))).toEqual({ in: 0, out: 0, dead_letters: 0 });
  });

  it("says how a pipeline is doing", () => {
    const now = Date.parse("2030-01-01T00:01:00Z");
    expect(healthOf("running", status(), now).health).toBe("running");
    expect(healthOf("running", null, now).health).toBe("starting");
    expect(healthOf("stopped", null, now).health).toBe("stopped");
    expect(healthOf("running", status({ workers: [] }), now)).toEqual({ health: "waiting", reason: "no worker runs it yet" });
    expect(healthOf("stopped", status(), now).health).toBe("stopping");
    expect(healthOf("running", status({ kafka_error: "NoBrokersAvailable" }), now)).toEqual({ health: "error", reason: "Kafka: NoBrokersAvailable" });
    const failing = healthOf("running", status({ last_error: { at: now / 1000 - 5, stage: "sink kafka", type: "KafkaTimeoutError", message: "no broker" } }), now);
    expect(failing).toEqual({ health: "error", reason: "sink kafka: KafkaTimeoutError: no broker" });
    expect(healthOf("running", status({ last_error: { at: now / 1000 - 600, message: "old" } }), now).health).toBe("running");
    expect(healthOf("running", status({ running_version: 1 }), now).reason).toBe("workers still run version 1");
  });

  it("formats rates, counts and dead letters", () => {
    expect(formatRate(0)).toBe("0/s");
    expect(formatRate(2.345)).toBe("2.3/s");
    expect(formatRate(12345.6)).toBe("12,346/s");
    expect(formatRate(undefined)).toBe("—");
    expect(formatCount(1234567)).toBe("1,234,567");
    expect(formatCount(null)).toBe("—");
    expect(deadLetterValue({ value_text: '{"a": 1}', value_base64: "eyJhIjogMX0=" })).toBe('{"a": 1}');
    expect(deadLetterValue({ value_text: null, value_base64: "/w==" })).toBe("base64: /w==");
  });
});
