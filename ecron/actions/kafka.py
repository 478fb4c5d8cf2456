"""Kafka actions: one message per attempt through one ``acks=all`` producer per node.

kafka-python blocks, so sends run in a worker thread; the delivery report is
awaited with the action's timeout. The producer is created on first use, so a
node whose jobs never send to Kafka never connects to it.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from common.kafka import create_producer
from common.settings import Settings
from ecron.actions.errors import ActionFailed
from ecron.models import KafkaAction
from ecron.templates import render, render_text


class KafkaRunner:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def _get_producer(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                self._producer = create_producer(self.settings, linger_ms=2)
            return self._producer

    def _send(self, action: KafkaAction, variables: dict[str, str]) -> Any:
        producer = self._get_producer()
        headers = [(name, render_text(value, variables).encode()) for name, value in action.headers.items()]
        headers.append(("ecron-execution-id", variables["execution_id"].encode()))
        key = render_text(action.key, variables) if action.key is not None else None
        return producer.send(action.topic, value=render(action.value, variables), key=key, headers=headers)

    async def run(self, action: KafkaAction, variables: dict[str, str]) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[Any] = loop.create_future()

        def settle(outcome: Any, failed: bool) -> None:
            if delivered.done():
                return
            if failed:
                delivered.set_exception(outcome)
            else:
                delivered.set_result(outcome)

        try:
            future = await asyncio.to_thread(self._send, action, variables)
            future.add_callback(lambda metadata: loop.call_soon_threadsafe(settle, metadata, False))
            future.add_errback(lambda error: loop.call_soon_threadsafe(settle, error, True))
            metadata = await asyncio.wait_for(delivered, action.timeout_s)
        except TimeoutError as exc:
            raise ActionFailed(
                f"Kafka did not acknowledge the message to {action.topic!r} in {action.timeout_s:g}s"
            ) from exc
        except KafkaError as exc:
            raise ActionFailed(f"sending to Kafka topic {action.topic!r} failed: {type(exc).__name__}: {exc}") from exc
        return {"topic": metadata.topic, "partition": metadata.partition, "offset": metadata.offset}

    async def close(self) -> None:
        if self._producer is not None:
            await asyncio.to_thread(self._producer.close, 5)
