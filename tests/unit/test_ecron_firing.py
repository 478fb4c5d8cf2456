"""ecron firing logic without servers: execution ids, slots that are no longer due, prepared actions, held lists."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from common.settings import Settings
from ecron.actions.kafka import KafkaRunner
from ecron.executions import manual_execution_id, parse_slot_execution_id, slot_execution_id
from ecron.jobs import JobStore
from ecron.models import Job, JobSpec, JobState, KafkaAction
from ecron.runner import ExecutionRunner, no_longer_due

SLOT = datetime(2027, 3, 1, 6, 0, tzinfo=UTC)


def job(cron: str = "0 6 * * *", **changes: Any) -> Job:
    spec = JobSpec.model_validate(
        {"name": "j", "schedule": {"cron": cron}, "action": {"type": "kafka", "topic": "t", "value": {"a": 1}}}
    )
    built = JobStore._build(
        JobStore.__new__(JobStore), "job-1", spec, SLOT - timedelta(days=1), revision=1, created_at=SLOT
    )
    return built.model_copy(update=changes)


def claim(**fields: Any) -> dict[str, Any]:
    return {
        "_id": slot_execution_id("job-1", SLOT),
        "job_id": "job-1",
        "trigger": "schedule",
        "scheduled_time": SLOT,
    } | fields


def test_slot_ids_round_trip_and_manual_ids_are_not_slots() -> None:
    assert parse_slot_execution_id(slot_execution_id("a@b", SLOT)) == ("a@b", SLOT)
    assert parse_slot_execution_id(manual_execution_id("job-1", SLOT)) is None
    assert parse_slot_execution_id(slot_execution_id("job-1", SLOT) + "~takeover-abc123") is None
    assert parse_slot_execution_id("no-at-sign") is None
    assert parse_slot_execution_id("job@not-a-time") is None


def test_a_claimed_slot_is_skipped_when_its_job_was_paused_or_its_schedule_no_longer_has_it() -> None:
    assert no_longer_due(claim(revision=1), job()) is None
    assert no_longer_due(claim(revision=1), job(state=JobState.paused)) == "the job was paused before the slot fired"
    # A newer revision whose schedules still contain the slot fires it; one without it does not.
    assert no_longer_due(claim(revision=1), job(revision=2)) is None
    assert "no longer include it" in (no_longer_due(claim(revision=1), job("0 7 * * *", revision=2)) or "")
    # Manual runs fire whatever the job's state; takeovers (no revision) only check the state.
    assert no_longer_due(claim(trigger="manual"), job(state=JobState.paused)) is None
    assert no_longer_due(claim(trigger="takeover"), job("0 7 * * *", revision=5)) is None


def test_a_kafka_message_is_rendered_and_encoded_before_the_fire_time() -> None:
    action = KafkaAction(
        topic="t", key="{{job_id}}", value={"slot": "{{scheduled_time}}", "n": 1}, headers={"h": "{{job_id}}"}
    )
    variables = {"job_id": "job-1", "scheduled_time": SLOT.isoformat(), "execution_id": "job-1@x"}
    message = KafkaRunner(Settings()).prepare(action, variables)
    assert message.key == b"job-1"
    assert json.loads(message.value or b"") == {"slot": SLOT.isoformat(), "n": 1}
    assert message.headers == [("h", b"job-1"), ("ecron-execution-id", b"job-1@x")]
    assert KafkaRunner(Settings()).prepare(KafkaAction(topic="t", value=None), variables).value is None


class _Writer:
    on_written: Any = None


def test_claims_in_flight_are_listed_apart_until_confirmed() -> None:
    runner = ExecutionRunner(
        jobs=None,  # type: ignore[arg-type]
        writer=_Writer(),  # type: ignore[arg-type]
        http=None,  # type: ignore[arg-type]
        kafka=None,  # type: ignore[arg-type]
        node_id="n",
        max_in_flight=10,
        cache_size=100,
    )
    runner.hold(["a", "b"], confirmed=False)
    runner.hold(["c"], confirmed=True)
    assert runner.held_lists() == (["c"], ["a", "b"])
    runner.release(["b"])
    runner.confirm(["a"])
    assert runner.held_lists() == (["a", "c"], [])
    runner.drop_all()
    assert runner.held_lists() == ([], [])
