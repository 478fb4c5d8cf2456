"""Kafka actions: one message per attempt through one ``acks=all`` producer per node.

``KafkaProducer.send`` only appends to the producer's buffer, except when it
does not know the topic's partitions yet: then it blocks on a metadata
request for up to ``max_block_ms``. A send to a topic whose partitions the
producer knows therefore runs right on the event loop (a thread hop per
message would cost more than the send when a thousand jobs fire in the same
second); any other send runs in a worker thread. The delivery report is
awaited with the action's timeout. The producer is created on first use, so
a node whose jobs never send to Kafka never connects to it.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from typing import Any

from kafka import KafkaProducer
from kafka.errors import KafkaError

from common.kafka import create_producer, json_value
from common.settings import Settings
from ecron.actions.errors import ActionFailed
from ecron.models import KafkaAction
from ecron.templates import render, render_text


@dataclass(frozen=True, slots=True)
class PreparedMessage:
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    timeout_s: float


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

    def _knows_partitions(self, topic: str) -> bool:
        """Whether a send to ``topic`` cannot block (its partitions are in the producer's metadata)."""
        metadata = getattr(self._producer, "_metadata", None)  # kafka-python's cluster metadata
        partitions_for_topic = getattr(metadata, "partitions_for_topic", None)
        return partitions_for_topic is not None and bool(partitions_for_topic(topic))

    def prepare(self, action: KafkaAction, variables: dict[str, str]) -> PreparedMessage:
        """The message with its templates filled in and encoded (done before the fire time)."""
        headers = [(name, render_text(value, variables).encode()) for name, value in action.headers.items()]
        headers.append(("ecron-execution-id", variables["execution_id"].encode()))
        return PreparedMessage(
            topic=action.topic,
            key=render_text(action.key, variables).encode() if action.key is not None else None,
            value=json_value(render(action.value, variables)),
            headers=headers,
            timeout_s=action.timeout_s,
        )

    def _send(self, message: PreparedMessage) -> Any:
        return self._get_producer().send(
            message.topic, value=message.value, key=message.key, headers=list(message.headers)
        )

    async def run(self, message: PreparedMessage) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        delivered: asyncio.Future[Any] = loop.create_future()

        def settle(outcome: Any, failed: bool) -> None:
            if delivered.done():
                return
            if failed:
                delivered.set_exception(outcome)
            else:
                delivered.set_result(outcome)

        topic = message.topic
        try:
            if self._knows_partitions(topic):
                future = self._send(message)
            else:
                future = await asyncio.to_thread(self._send, message)
            future.add_callback(lambda metadata: loop.call_soon_threadsafe(settle, metadata, False))
            future.add_errback(lambda error: loop.call_soon_threadsafe(settle, error, True))
            metadata = await asyncio.wait_for(delivered, message.timeout_s)
        except TimeoutError as exc:
            raise ActionFailed(f"Kafka did not acknowledge the message to {topic!r} in {message.timeout_s:g}s") from exc
        except KafkaError as exc:
            raise ActionFailed(f"sending to Kafka topic {topic!r} failed: {type(exc).__name__}: {exc}") from exc
        return {"topic": metadata.topic, "partition": metadata.partition, "offset": metadata.offset}

    async def close(self) -> None:
        if self._producer is not None:
            await asyncio.to_thread(self._producer.close, 5)
