"""Kafka helpers on kafka-python: producer, consumer and topic admin.

kafka-python is blocking, so services call these from a thread
(``asyncio.to_thread``), never on the event loop. Producers wait for every
in-sync replica (``acks=all``); topics are created by the code that owns them,
since the broker's automatic topic creation is off.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError, NodeNotReadyError, TopicAlreadyExistsError
from kafka.serializer import Serializer

from common.settings import Settings

log = logging.getLogger(__name__)

#: kafka-python errors that mean "the broker is unreachable right now".
TRANSIENT_KAFKA_ERRORS: tuple[type[Exception], ...] = (
    NodeNotReadyError,
    KafkaConnectionError,
    KafkaTimeoutError,
)


@dataclass(frozen=True, kw_only=True)
class TopicSpec:
    """A topic the calling code owns and creates if missing."""

    name: str
    partitions: int = 1
    replication_factor: int = 1
    config: dict[str, str] = field(default_factory=dict)


def json_value(data: Any) -> bytes | None:
    """A message value as compact UTF-8 JSON; bytes pass through unchanged and ``None`` stays ``None``."""
    if data is None or isinstance(data, bytes | bytearray):
        return data
    return json.dumps(data, separators=(",", ":"), default=str).encode()


class JsonValueSerializer(Serializer):
    """Message values as compact UTF-8 JSON (:func:`json_value`)."""

    def serialize(self, topic: str, headers: Any, data: Any) -> bytes | None:
        return json_value(data)


class KeySerializer(Serializer):
    """Message keys as UTF-8 text; bytes and ``None`` pass through."""

    def serialize(self, topic: str, headers: Any, data: Any) -> bytes | None:
        if data is None or isinstance(data, bytes | bytearray):
            return data
        return str(data).encode()


def create_producer(settings: Settings, **overrides: Any) -> KafkaProducer:
    """A producer with ``acks=all`` and JSON values (bytes and str keys pass through)."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "acks": "all",
        "linger_ms": 5,
        "retries": 5,
        "request_timeout_ms": settings.kafka_timeout_ms * 2,
        "max_block_ms": settings.kafka_timeout_ms,
        "value_serializer": JsonValueSerializer(),
        "key_serializer": KeySerializer(),
    }
    options.update(overrides)
    return KafkaProducer(**options)


def create_consumer(settings: Settings, *topics: str, group_id: str | None, **overrides: Any) -> KafkaConsumer:
    """A consumer with manual commits; values are left as bytes unless overridden."""
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "group_id": group_id,
        "enable_auto_commit": False,
        "auto_offset_reset": "earliest",
        "request_timeout_ms": max(settings.kafka_timeout_ms * 6, 30000),
    }
    options.update(overrides)
    return KafkaConsumer(*topics, **options)


def create_admin(settings: Settings) -> KafkaAdminClient:
    return KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap,
        request_timeout_ms=settings.kafka_timeout_ms,
        bootstrap_timeout_ms=settings.kafka_timeout_ms,
        client_id="dataflow-admin",
    )


def ensure_topics(settings: Settings, specs: Iterable[TopicSpec]) -> list[str]:
    """Create the topics that do not exist yet; returns the names created."""
    specs = list(specs)
    admin = create_admin(settings)
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in specs if spec.name not in existing]
        if not missing:
            return []
        new_topics = [
            NewTopic(
                spec.name,
                num_partitions=spec.partitions,
                replication_factor=spec.replication_factor,
                topic_configs=spec.config,
            )
            for spec in missing
        ]
        # Another replica may create a topic between our check and our request.
        with contextlib.suppress(TopicAlreadyExistsError):
            admin.create_topics(new_topics)
        log.info("created Kafka topics", extra={"topics": [spec.name for spec in missing]})
        return [spec.name for spec in missing]
    finally:
        admin.close()


class KafkaHealth:
    """Answers "is the broker reachable?" with one long-lived admin client.

    A metadata request per check is cheap; creating a client per check is not.
    The client is recreated after a failure. :meth:`check` blocks (call it from
    a thread); :meth:`check_async` runs it in a thread with at most one check
    in flight, so probes against a dead broker never pile up threads.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._admin: KafkaAdminClient | None = None
        self._lock = threading.Lock()
        self._in_flight: asyncio.Future[None] | None = None

    async def check_async(self) -> None:
        if self._in_flight is None or self._in_flight.done():
            self._in_flight = asyncio.ensure_future(asyncio.to_thread(self.check))
            # A probe that timed out stops waiting; still collect the outcome so it is not reported as lost.
            self._in_flight.add_done_callback(lambda future: future.cancelled() or future.exception())
        await asyncio.shield(self._in_flight)

    def check(self) -> None:
        with self._lock:
            try:
                if self._admin is None:
                    self._admin = create_admin(self.settings)
                self._admin.list_topics()
            except KafkaError:
                self._close()
                raise

    def _close(self) -> None:
        if self._admin is not None:
            try:
                self._admin.close()
            except Exception:
                log.debug("closing the Kafka admin client failed", exc_info=True)
            self._admin = None

    def close(self) -> None:
        with self._lock:
            self._close()
