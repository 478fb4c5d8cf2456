"""ecron firing logic without servers: execution ids, slots that are no longer due, prepared actions, held
lists, and the firing pass of the runner (its Kafka producer replaced by one that records the sends and
whose delivery reports the test decides; the real producer is exercised by the integration tests)."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka.errors import KafkaTimeoutError
from kafka.future import Future

from common.settings import Settings
from ecron.actions.kafka import KafkaRunner, PreparedMessage
from ecron.executions import manual_execution_id, parse_slot_execution_id, slot_execution_id
from ecron.jobs import JobStore, job_document
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

    def __init__(self) -> None:
        self.outcomes: dict[str, dict[str, Any]] = {}

    def record(self, outcome: dict[str, Any]) -> None:
        self.outcomes[outcome["_id"]] = outcome


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


class _Producer(KafkaRunner):
    """Records sends; a delivery report comes from another thread (as from kafka-python's sender) per ``answer``,
    called with the producer and the send's number (None: no report ever)."""

    runner: ExecutionRunner

    def __init__(self, answer: Any) -> None:
        super().__init__(Settings())
        self.answer = answer
        self.sent: list[PreparedMessage] = []
        self.retried: list[PreparedMessage] = []

    def can_send_now(self, message: PreparedMessage) -> bool:
        return True

    def send_now(self, message: PreparedMessage) -> Any:
        self.sent.append(message)
        future = Future()
        outcome = self.answer(self, len(self.sent))
        if outcome is not None:
            threading.Timer(
                0.01, lambda: future.failure(outcome) if isinstance(outcome, Exception) else future.success(outcome)
            ).start()
        return future

    async def run(self, message: PreparedMessage) -> dict[str, Any]:
        self.retried.append(message)
        return {"topic": message.topic, "partition": 0, "offset": 99}


class _Metadata:
    topic, partition, offset = "t", 0, 7


def _fire(answer: Any, count: int, *, retry: dict[str, Any], timeout_s: float = 10.0, drop: bool = False) -> Any:
    """Start ``count`` slots of different jobs due at one instant; returns (outcomes, producer, runner)."""
    writer = _Writer()
    producer = _Producer(answer)
    runner = ExecutionRunner(
        jobs=None,  # type: ignore[arg-type]
        writer=writer,  # type: ignore[arg-type]
        http=None,  # type: ignore[arg-type]
        kafka=producer,
        node_id="n",
        max_in_flight=1000,
        cache_size=1000,
    )
    producer.runner = runner

    async def scenario() -> None:
        fire = datetime.now(UTC) + timedelta(seconds=0.3)
        for n in range(count):
            spec = JobSpec.model_validate(
                {
                    "name": f"j{n}",
                    "schedule": {"cron": "* * * * * *"},
                    "action": {"type": "kafka", "topic": "t", "value": {"n": n}, "timeout_s": timeout_s},
                    "retry": retry,
                }
            )
            built = JobStore._build(JobStore.__new__(JobStore), f"job-{n}", spec, fire, revision=1, created_at=fire)
            runner.remember_job(job_document(built))
            runner.start(
                {
                    "_id": f"job-{n}@x",
                    "job_id": f"job-{n}",
                    "trigger": "schedule",
                    "scheduled_time": fire,
                    "fire_time": fire,
                    "revision": 1,
                    "attempt": 0,
                },
                max_concurrent=1,
            )
        if drop:
            runner.drop_all()
        await runner.drain(timeout_s + 3)  # waits for the instant, the reports and the retries

    asyncio.run(scenario())
    return writer.outcomes, producer, runner


def test_slots_due_at_one_instant_are_sent_in_one_pass_and_their_reports_recorded() -> None:
    outcomes, producer, runner = _fire(lambda producer, n: _Metadata(), 50, retry={"max_attempts": 1})
    assert len(producer.sent) == 50 and not producer.retried
    assert {o["status"] for o in outcomes.values()} == {"succeeded"}
    assert {o["response"]["offset"] for o in outcomes.values()} == {7}
    assert all(o["attempt"] == 1 and o["fired_at"] is not None and o["duration_ms"] >= 0 for o in outcomes.values())
    # Fired in the order they were claimed, and nothing left counted as running.
    fired = [outcomes[f"job-{n}@x"]["fired_at"] for n in range(50)]
    assert fired == sorted(fired)
    assert runner._active == 0 and not runner._running and not runner._live


def test_a_failed_delivery_is_retried_in_a_task_of_its_own() -> None:
    error = KafkaTimeoutError("broker gone")
    outcomes, producer, _ = _fire(lambda producer, n: error, 3, retry={"max_attempts": 2, "backoff_s": 0})
    assert len(producer.sent) == 3 and len(producer.retried) == 3
    for outcome in outcomes.values():
        assert outcome["status"] == "succeeded" and outcome["attempt"] == 2
        assert outcome["attempt_errors"] == [
            "attempt 1: sending to Kafka topic 't' failed: KafkaTimeoutError: KafkaTimeoutError: broker gone"
        ]


def test_a_message_never_acknowledged_fails_after_its_timeout() -> None:
    outcomes, producer, runner = _fire(lambda producer, n: None, 2, retry={"max_attempts": 1}, timeout_s=0.3)
    assert len(producer.sent) == 2
    assert {o["status"] for o in outcomes.values()} == {"failed"}
    assert all("did not acknowledge" in o["error"] for o in outcomes.values())
    assert runner._unsettled == 0 and runner._active == 0


def test_slots_dropped_with_the_lease_never_fire() -> None:
    outcomes, producer, runner = _fire(lambda producer, n: _Metadata(), 5, retry={"max_attempts": 1}, drop=True)
    assert not producer.sent and not outcomes and not runner.knows("job-0@x")


def test_a_delivery_failure_after_the_lease_was_lost_is_not_retried() -> None:
    # The lease is lost while the messages are in flight: their failures must not start retries (another
    # node owns those executions now), and nothing is recorded.

    def fail_after_dropping(producer: _Producer, n: int) -> Exception:
        producer.runner.drop_all()
        return KafkaTimeoutError("broker gone")

    outcomes, producer, runner = _fire(fail_after_dropping, 1, retry={"max_attempts": 3, "backoff_s": 0})
    assert len(producer.sent) == 1 and not producer.retried and not outcomes
    assert runner._active == 0 and not runner._running
