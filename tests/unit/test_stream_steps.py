"""Steps and their processor on plain records: the pure logic, no Kafka, no MongoDB."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from common.settings import Settings
from stream_pipeline.models import PipelineSpec, SourceFormat
from stream_pipeline.processing import Processor
from stream_pipeline.records import DeadLetter, Record
from stream_pipeline.steps import StepContext, StepDefinition

STEPS = TypeAdapter(list[StepDefinition])
T0 = 1_699_999_980_000  # an event time in ms, on a minute boundary
assert T0 % 60_000 == 0


def processor(*steps: dict[str, Any], source_format: str = "json") -> Processor:
    context = StepContext(pipeline_id="unit", settings=Settings())
    return Processor(SourceFormat(source_format), STEPS.validate_python(list(steps)), context)


def records(*values: Any, partition: int = 0, start_offset: int = 0) -> list[Record]:
    return [
        Record(value, topic="t", partition=partition, offset=start_offset + index, timestamp=T0)
        for index, value in enumerate(values)
    ]


def drained(proc: Processor) -> list[Any]:
    return [record.value for record in proc.drain([])]


def run(proc: Processor, batch: list[Record]) -> tuple[list[Any], list[DeadLetter]]:
    dead: list[DeadLetter] = []
    out = proc.run(batch, dead)
    return [record.value for record in out], dead


class _Message:
    def __init__(self, offset: int, value: bytes | None) -> None:
        self.topic, self.partition, self.offset, self.key = "t", 0, offset, b"k"
        self.value, self.timestamp, self.headers = value, T0, []


def test_the_issue_example_filters_and_maps() -> None:
    proc = processor(
        {"type": "filter", "expr": "amount > 10 and country == 'KR'"},
        {"type": "map", "set": {"amount_krw": "amount * 1300"}, "drop": ["debug"]},
    )
    out, dead = run(
        proc,
        records(
            {"amount": 12, "country": "KR", "debug": True},
            {"amount": 12, "country": "US"},
            {"amount": 3, "country": "KR"},
        ),
    )
    assert out == [{"amount": 12, "country": "KR", "amount_krw": 15600}]
    assert dead == []


def test_failing_records_are_dead_lettered_and_the_rest_go_on() -> None:
    proc = processor({"type": "map", "set": {"double": "amount * 2"}})
    out, dead = run(proc, records({"amount": 1}, {"amount": "x"}, {"amount": None}, "not an object", {"amount": 3}))
    assert out == [{"amount": 1, "double": 2}, {"amount": "x", "double": "xx"}, {"amount": 3, "double": 6}]
    assert [letter.record.offset for letter in dead] == [2, 3]
    assert dead[0].error_type == "ExpressionError" and "null * number" in dead[0].message
    assert dead[0].stage == "steps[0] map"
    assert dead[1].error_type == "StepError" and "JSON object" in dead[1].message


def test_decode_failures_keep_the_original_bytes() -> None:
    proc = processor()
    dead: list[DeadLetter] = []
    decoded = proc.decode([_Message(0, b'{"a": 1}'), _Message(1, b"{broken"), _Message(2, None)], dead)
    assert [record.value for record in decoded] == [{"a": 1}]
    assert [(letter.stage, letter.record.raw, letter.record.offset) for letter in dead] == [
        ("decode", b"{broken", 1),
        ("decode", None, 2),
    ]
    text = processor(source_format="text")
    assert text.decode([_Message(0, "héllo".encode())], dead)[0].value == "héllo"
    assert len(text.decode([_Message(1, b"\xff\xfe")], dead)) == 0
    assert dead[-1].error_type == "UnicodeDecodeError"


def test_project_rename_and_nested_paths() -> None:
    proc = processor(
        {"type": "rename", "fields": {"user.name": "customer", "id": "order_id"}},
        {"type": "project", "fields": ["order_id", "customer", "totals.net"]},
    )
    out, _ = run(proc, records({"id": 7, "user": {"name": "Kim", "age": 3}, "totals": {"net": 5, "vat": 1}, "x": 1}))
    assert out == [{"order_id": 7, "customer": "Kim", "totals": {"net": 5}}]


def test_validate_parses_and_checks_the_schema() -> None:
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["id", "email"],
        "properties": {"id": {"type": "integer"}, "email": {"type": "string", "format": "email"}},
    }
    proc = processor({"type": "validate", "schema": schema}, source_format="text")
    out, dead = run(
        proc, records('{"id": 1, "email": "a@b.kr"}', '{"id": "one", "email": "a@b.kr"}', "{nope", '{"id": 2}')
    )
    assert out == [{"id": 1, "email": "a@b.kr"}]
    assert [letter.error_type for letter in dead] == ["SchemaMismatch", "StepError", "SchemaMismatch"]
    assert "at /id" in dead[0].message and "'one' is not of type 'integer'" in dead[0].message
    assert "not valid JSON" in dead[1].message
    assert "'email' is a required property" in dead[2].message


def test_invalid_definitions_name_the_field() -> None:
    with pytest.raises(ValidationError) as caught:
        STEPS.validate_python([{"type": "filter", "expr": "amount >"}, {"type": "validate", "schema": {"type": 5}}])
    fields = {".".join(str(part) for part in error["loc"]) for error in caught.value.errors()}
    assert fields == {"0.filter.expr", "1.validate.schema"}
    with pytest.raises(ValidationError, match=r"Input tag 'explode' found using 'type' does not match"):
        STEPS.validate_python([{"type": "explode"}])
    with pytest.raises(ValidationError, match="line 2"):
        STEPS.validate_python([{"type": "python", "code": "def process(v):\n    return v.__class__"}])


def test_example_pipeline_definition_is_accepted_as_written() -> None:
    spec = PipelineSpec.model_validate(
        {
            "name": "orders-clean",
            "source": {"topics": ["orders"], "group": "orders-clean", "start": "earliest", "format": "json"},
            "steps": [
                {"type": "filter", "expr": "amount > 10 and country == 'KR'"},
                {"type": "map", "set": {"amount_krw": "amount * 1300"}, "drop": ["debug"]},
            ],
            "sink": {"type": "kafka", "topic": "orders-clean"},
            "dead_letter_topic": "orders-clean.dlq",
        }
    )
    assert spec.resolved_id() == "orders-clean"
    with pytest.raises(ValidationError, match="loop forever"):
        PipelineSpec.model_validate({**spec.model_dump(), "sink": {"type": "kafka", "topic": "orders"}})


def test_dedupe_drops_repeats_within_the_window_only() -> None:
    proc = processor({"type": "dedupe", "key": "id", "window_s": 60, "time_field": "at"})
    values = [
        {"id": 1, "at": T0},
        {"id": 1, "at": T0 + 30_000},  # repeat within 60 s
        {"id": 2, "at": T0 + 31_000},
        {"id": 1, "at": T0 + 61_000},  # 61 s after the first: new again
        {"id": 1, "at": T0 + 10_000},  # out of order, within the window of the first
        {"id": None, "at": T0},  # no key: passes
    ]
    out, dead = run(proc, records(*values))
    assert [(value["id"], value["at"] - T0) for value in out] == [(1, 0), (2, 31_000), (1, 61_000), (None, 0)]
    assert dead == []


def test_python_step_runs_under_the_sandbox_policy() -> None:
    code = (
        "import math\n"
        "def process(value):\n"
        "    if value.get('skip'):\n"
        "        return None\n"
        "    if value.get('split'):\n"
        "        return [{'part': n} for n in range(value['split'])]\n"
        "    if value.get('boom'):\n"
        "        raise ValueError('boom ' + str(value['boom']))\n"
        "    value['root'] = math.sqrt(value['n'])\n"
        "    return value\n"
    )
    proc = processor({"type": "python", "code": code})
    out, dead = run(proc, records({"n": 16}, {"skip": True}, {"split": 2}, {"boom": 7}, {"n": "x"}))
    assert out == [{"n": 16, "root": 4.0}, {"part": 0}, {"part": 1}]
    assert (dead[0].error_type, dead[0].message) == ("ValueError", "line 8: boom 7")
    assert dead[1].error_type == "TypeError" and dead[1].message.startswith("line 9:")

    escape = processor({"type": "python", "code": "def process(value):\n    import os\n    return value\n"})
    _, dead = run(escape, records({"n": 1}))
    assert dead[0].error_type == "SandboxViolation" and "'os' is not allowed" in dead[0].message


def window(kind: str = "tumbling_window", **options: Any) -> Processor:
    return processor(
        {
            "type": kind,
            "size_s": 60,
            "time_field": "at",
            "group_by": ["country"],
            "aggregations": {
                "n": {"op": "count"},
                "total": {"op": "sum", "field": "amount"},
                "mean": {"op": "avg", "field": "amount"},
                "low": {"op": "min", "field": "amount"},
                "high": {"op": "max", "field": "amount"},
            },
            **options,
        }
    )


def event(seconds: float, amount: float, country: str = "KR") -> dict[str, Any]:
    return {"at": T0 + int(seconds * 1000), "amount": amount, "country": country}


def test_tumbling_window_with_out_of_order_and_late_events() -> None:
    proc = window(allowed_lateness_s=10)
    out, dead = run(proc, records(event(5, 10), event(50, 30), event(20, 20, "JP"), event(30, 5)))
    assert out == [] and dead == []  # nothing closed yet
    # 65 s: the first window [0, 60) ends, but lateness keeps it open until 70 s.
    out, dead = run(proc, records(event(65, 1), event(55, 100), start_offset=4))
    assert out == [] and dead == []
    out, dead = run(proc, records(event(71, 2), event(58, 999), start_offset=6))
    assert sorted(out, key=lambda value: value["country"]) == [
        {
            "country": "JP",
            "window_start": "2023-11-14T22:13:00.000Z",
            "window_end": "2023-11-14T22:14:00.000Z",
            "n": 1,
            "total": 20,
            "mean": 20.0,
            "low": 20,
            "high": 20,
        },
        {
            "country": "KR",
            "window_start": "2023-11-14T22:13:00.000Z",
            "window_end": "2023-11-14T22:14:00.000Z",
            "n": 4,
            "total": 145,
            "mean": 36.25,
            "low": 5,
            "high": 100,
        },
    ]
    # The event at 58 s came after the window closed (watermark 71 s >= 60 + 10): dead-lettered as late.
    assert [letter.error_type for letter in dead] == ["LateEvent"]
    assert dead[0].record.offset == 7
    assert [(value["n"], value["total"]) for value in drained(proc)] == [(2, 3)]


def test_sliding_window_counts_each_event_in_every_window_it_falls_into() -> None:
    proc = window("sliding_window", slide_s=30, group_by=[])
    out, _ = run(proc, records(event(10, 1), event(40, 2), event(70, 4)))
    assert len(out) == 2  # the watermark (70 s) passed the ends of [-30, 30) and [0, 60)
    out += drained(proc)
    summary = [(value["window_start"][-13:-5], value["n"], value["total"]) for value in out]
    # Windows of 60 s every 30 s: [-30, 30) [0, 60) [30, 90) [60, 120)
    assert summary == [("22:12:30", 1, 1), ("22:13:00", 2, 3), ("22:13:30", 2, 6), ("22:14:00", 1, 4)]


def test_open_windows_hold_their_offsets_and_replays_are_not_late() -> None:
    proc = window()
    run(proc, records(event(5, 1), event(10, 2), start_offset=100))
    assert proc.held_offsets() == {("t", 0): 100}
    out, _ = run(proc, records(event(61, 3), start_offset=102))
    assert len(out) == 1 and proc.held_offsets() == {("t", 0): 102}
    checkpoint = proc.checkpoint()
    assert json.loads(checkpoint) == {"steps": {"0": {"watermark": T0 + 61_000}}}

    # A restarted worker: fresh state, the watermark back from the commit, replay from offset 102.
    restarted = window()
    restarted.restore(checkpoint)
    replayed = records(event(10, 2), start_offset=101)
    replayed[0].replay = True
    out, dead = run(restarted, replayed + records(event(62, 4), start_offset=102))
    assert out == [] and dead == []  # the replayed event of the closed window is neither counted nor late
    assert [(value["n"], value["total"]) for value in drained(restarted)] == [(1, 4)]


def test_window_rejects_non_numeric_values_per_record() -> None:
    proc = window()
    _, dead = run(proc, records(event(1, 1), {"at": T0, "amount": "lots", "country": "KR"}, {"amount": 1}))
    assert [letter.error_type for letter in dead] == ["StepError", "StepError"]
    assert "sum needs a number" in dead[0].message and "event time field 'at'" in dead[1].message
