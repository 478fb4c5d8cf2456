"""Pure parts of the executor and the event publisher: the node config cache, and early flushes."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from common.settings import Settings
from flow_automation.engine import states as st
from flow_automation.engine.events import EventPublisher
from flow_automation.engine.journal import TaskSpec
from flow_automation.executor import HEAL_INTERVAL_S, Attempt, Executor, heal_due
from flow_automation.node_types import get_node_type


def spec(node_type: str, config: dict[str, Any], node: str = "n") -> TaskSpec:
    return TaskSpec(node=node, type=node_type, deps={}, downstream=(), lenient=False, spec={"config": config})


def bare_executor() -> Executor:
    executor = object.__new__(Executor)  # _config uses nothing but its cache
    executor._configs = OrderedDict()
    return executor


def test_a_node_config_is_parsed_once_per_type_and_content() -> None:
    executor, python = bare_executor(), get_node_type("python")
    first = executor._config(python, spec("python", {"code": "result = 1"}, node="a"))
    again = executor._config(python, spec("python", {"code": "result = 1"}, node="b"))
    other = executor._config(python, spec("python", {"code": "result = 2"}))
    assert again is first and other is not first
    assert first.code == "result = 1" and other.code == "result = 2"


def test_a_config_its_type_refuses_fails_the_attempt_naming_the_field() -> None:
    executor = bare_executor()
    with pytest.raises(Attempt) as refused:
        executor._config(get_node_type("python"), spec("python", {"code": "result = (", "colour": 1}, node="p1"))
    assert refused.value.state == st.FAILED and refused.value.error["type"] == "InvalidConfig"
    message = refused.value.error["message"]
    assert "node p1" in message and "code" in message and "colour" in message
    assert not executor._configs


class RecordingProducer:
    """Stands in for KafkaProducer in this unit test of the publisher's bookkeeping: what was sent when."""

    def __init__(self) -> None:
        self.log: list[str] = []

    def send(self, topic: str, *, key: Any = None, value: Any = None, partition: int | None = None) -> None:
        self.log.append(f"send {value['state']}")

    def flush(self, timeout: float | None = None) -> None:
        self.log.append("flush")

    def partitions_for(self, topic: str) -> set[int]:
        return {0}


def event(state: str) -> dict[str, Any]:
    return {"run_id": "r1", "state": state}


def test_an_early_flush_counts_only_what_it_sent_and_a_later_flush_waits_for_the_rest() -> None:
    async def scenario() -> tuple[list[str], int, int]:
        events = EventPublisher(Settings())
        producer = events._producer = RecordingProducer()
        events.emit_soon([event("a")])
        events.flush_soon()
        events.emit_soon([event("b")])  # after the early flush was asked for: not counted by it
        await asyncio.sleep(0.05)
        flushed_early = events._flushed
        await events.flush_async()
        return producer.log, flushed_early, events._flushed

    log, flushed_early, flushed = asyncio.run(scenario())
    # "b" may reach the producer before the early flush runs in its thread, but that flush counts "a" only.
    assert log[0] == "send a" and "flush" in log[1:3]
    assert flushed_early == 1
    assert flushed == 2 and log.count("flush") == 2 and log[-1] == "flush" and log.index("send b") < len(log) - 1


def test_a_failed_early_flush_fails_the_flush_that_waits_for_it() -> None:
    class Unreachable(RecordingProducer):
        def flush(self, timeout: float | None = None) -> None:
            raise ConnectionError("kafka is down")

    async def scenario() -> None:
        events = EventPublisher(Settings())
        events._producer = Unreachable()
        events.emit(event("a"))
        events.flush_soon()
        await asyncio.sleep(0)
        await events.flush_async()

    with pytest.raises(ConnectionError):
        asyncio.run(scenario())


def test_the_periodic_heal_leaves_young_runs_alone_unless_they_are_being_canceled() -> None:
    now = datetime.now(UTC)
    interval = timedelta(seconds=HEAL_INTERVAL_S)
    assert not heal_due({"started_at": now - interval / 2}, now)
    assert heal_due({"started_at": now - interval}, now)
    assert heal_due({"started_at": now - interval / 2, "cancel_requested": True}, now)
    assert heal_due({"started_at": None}, now)
