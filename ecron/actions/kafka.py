"""Kafka actions: one message per attempt through one ``acks=all`` producer per node.

``KafkaProducer.send`` only appends to the producer's buffer, except when it
does not know the topic's partitions yet: then it blocks on a metadata
request for up to ``max_block_ms``. A send to a topic whose partitions the
producer knows therefore runs right on the event loop (:meth:`KafkaRunner.send_now`,
which the runner calls for every slot due at one instant in one pass; a
thread hop per message would cost more than the send when a thousand jobs
fire in the same second); any other send runs in a worker thread. The
producer is created on first use, so a node whose jobs never send to Kafka
never connects to it.

Preparing a message (before the fire time) renders and encodes it and, when
it has a key and the producer knows the topic, picks its partition with the
producer's own partitioner, so the key hash is not computed at the fire time.
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
    partition: int | None = None  # picked before the fire time, valid while the topic has ``partitions`` partitions
    partitions: int = 0


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

    def _partitions(self, topic: str) -> set[int] | None:
        """The topic's partitions if the producer knows them (a send to it then cannot block)."""
        metadata = getattr(self._producer, "_metadata", None)  # kafka-python's cluster metadata
        partitions_for_topic = getattr(metadata, "partitions_for_topic", None)
        return partitions_for_topic(topic) if partitions_for_topic is not None else None

    def prepare(self, action: KafkaAction, variables: dict[str, str]) -> PreparedMessage:
        """The message with its templates filled in and encoded (done before the fire time)."""
        headers = [(name, render_text(value, variables).encode()) for name, value in action.headers.items()]
        headers.append(("ecron-execution-id", variables["execution_id"].encode()))
        key = render_text(action.key, variables).encode() if action.key is not None else None
        value = json_value(render(action.value, variables))
        partition, count = None, 0
        if key is not None and (known := self._partitions(action.topic)):
            partitioner = self._producer.config["partitioner"]  # type: ignore[union-attr]
            partition = partitioner.partition(action.topic, key, key, value, value, self._producer._metadata)  # type: ignore[union-attr]
            count = len(known)
        return PreparedMessage(
            topic=action.topic,
            key=key,
            value=value,
            headers=headers,
            timeout_s=action.timeout_s,
            partition=partition,
            partitions=count,
        )

    def can_send_now(self, message: PreparedMessage) -> bool:
        """Whether :meth:`send_now` would not block (the producer knows the topic's partitions)."""
        return bool(self._partitions(message.topic))

    def send_now(self, message: PreparedMessage) -> Any:
        """Append the message to the producer's buffer; returns kafka-python's future of its delivery.

        Only when :meth:`can_send_now`; raises :class:`KafkaError` if the producer refuses it.
        """
        partition = message.partition
        if partition is not None and len(self._partitions(message.topic) or ()) != message.partitions:
            partition = None  # the topic gained partitions since the message was prepared: hash the key again
        return self._get_producer().send(
            message.topic, value=message.value, key=message.key, headers=list(message.headers), partition=partition
        )

    @staticmethod
    def failure(message: PreparedMessage, error: BaseException) -> str:
        return f"sending to Kafka topic {message.topic!r} failed: {type(error).__name__}: {error}"

    @staticmethod
    def timed_out(message: PreparedMessage) -> str:
        return f"Kafka did not acknowledge the message to {message.topic!r} in {message.timeout_s:g}s"

    @staticmethod
    def summary(metadata: Any) -> dict[str, Any]:
        return {"topic": metadata.topic, "partition": metadata.partition, "offset": metadata.offset}

    async def run(self, message: PreparedMessage) -> dict[str, Any]:
        """One attempt on its own: send (in a thread when it could block) and wait for the delivery report."""
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
            if self.can_send_now(message):
                future = self.send_now(message)
            else:
                future = await asyncio.to_thread(self.send_now, message)
            future.add_callback(lambda metadata: loop.call_soon_threadsafe(settle, metadata, False))
            future.add_errback(lambda error: loop.call_soon_threadsafe(settle, error, True))
            metadata = await asyncio.wait_for(delivered, message.timeout_s)
        except TimeoutError as exc:
            raise ActionFailed(self.timed_out(message)) from exc
        except KafkaError as exc:
            raise ActionFailed(self.failure(message, exc)) from exc
        return self.summary(metadata)

    async def close(self) -> None:
        if self._producer is not None:
            await asyncio.to_thread(self._producer.close, 5)
