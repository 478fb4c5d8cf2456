"""Run events on ``dataflow.flow-events``: every run and task state change, keyed by run id.

Keying by run id puts all of a run's events on one partition, so the
partition's offsets are the run's total order, and an event's offset is its
SSE id (``GET /api/v1/runs/{id}/events`` resumes from ``Last-Event-ID``).

Causal order across executors holds because of one rule, kept by the engine:
events are flushed (acknowledged by the broker) *before* the MongoDB write
that lets another process act on that change. Task ``b`` can only be claimed
by another executor after the write that makes it ready, and by then "a
succeeded" and "b ready" are already in the partition, ahead of anything the
next executor publishes.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime
from typing import Any

from kafka.partitioner.default import murmur2

from common.kafka import TopicSpec, create_producer, ensure_topics
from common.settings import Settings

log = logging.getLogger(__name__)

FLOW_EVENTS_TOPIC = "dataflow.flow-events"
TRIGGERS_TOPIC = "dataflow.triggers"
#: Rung after tasks are queued, so idle executors claim them at once instead of at their next poll.
DOORBELL_TOPIC = "dataflow.task-queue-doorbell"
#: Events wait this long for others to share a produce request; a flush sends at once, and every write that
#: lets another process act on a change flushes first, so the linger only delays what watchers see. Sent
#: one by one (or every 5 ms), the producer's sender thread took a request per hop or two and held the GIL
#: away from the executor's event loop: in a chain of python tasks it used about 3 ms of CPU per task.
EVENT_LINGER_MS = 50
#: A partition's batch of events is sent at the linger or a flush, not when 16 KiB (the producer's default,
#: about 60 events) fill it: a full batch waiting to go out makes every later send wake the sender thread
#: (a socket write each), which in a fast chain was most sends.
EVENT_BATCH_BYTES = 512 * 1024
PARTITION_CACHE_SIZE = 10_000


def topic_specs(settings: Settings) -> list[TopicSpec]:
    return [
        TopicSpec(name=FLOW_EVENTS_TOPIC, partitions=settings.flow_events_partitions),
        TopicSpec(name=TRIGGERS_TOPIC, partitions=settings.flow_events_partitions),
        TopicSpec(name=DOORBELL_TOPIC, partitions=1, config={"retention.ms": "600000"}),
    ]


def run_event(run: dict[str, Any], state: str, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "run",
        "run_id": run["_id"],
        "flow_id": run["flow_id"],
        "state": state,
        "attempt": run.get("attempt", 1),
        "at": datetime.now(UTC).isoformat(),
        **extra,
    }


class EventPublisher:
    """One producer per process; ``emit`` is fire-and-forget until ``flush``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._producer: Any = None
        self._emitted = 0  # events handed to the producer, and how many of them a flush confirmed
        self._flushed = 0
        self._flushing: asyncio.Future[None] | None = None
        self._lock = threading.Lock()
        self._partitions: dict[bytes, int] = {}  # run id -> its partition of FLOW_EVENTS_TOPIC
        self._send_error: Exception | None = None  # a send of emit_soon refused, raised by the next flush
        self._rings: list[str] = []  # run ids whose doorbell ring is not sent yet
        self._ringing = False

    def ensure_topics(self) -> None:
        """Create the topics if they are missing, and fetch the event topic's metadata into the producer.

        Events are sent from the event loop, and a producer's first send to a
        topic blocks until it has the topic's metadata: about 0.1 s, in the
        middle of every executor's first claim.
        """
        ensure_topics(self.settings, topic_specs(self.settings))
        self.producer.partitions_for(FLOW_EVENTS_TOPIC)

    @property
    def producer(self) -> Any:
        if self._producer is None:
            with self._lock:  # the doorbell may ask for it from a worker thread
                if self._producer is None:
                    self._producer = create_producer(
                        self.settings, linger_ms=EVENT_LINGER_MS, batch_size=EVENT_BATCH_BYTES
                    )
        return self._producer

    def emit(self, event: dict[str, Any]) -> None:
        self.producer.send(FLOW_EVENTS_TOPIC, key=event["run_id"], value=event)
        self._emitted += 1

    def emit_soon(self, events: list[dict[str, Any]]) -> None:
        """Emit ``events`` from the event loop's next turn, in order.

        A write submitted just before (:meth:`InsertBatcher.submit`) goes out
        first, and the sends (the producer's serialising, partitioning and
        batching, in Python) overlap its round trip instead of delaying it.
        A flush waits for them too: they count as emitted from now on.
        """
        self._emitted += len(events)
        asyncio.get_running_loop().call_soon(self._send_all, events)

    def _send_all(self, events: list[dict[str, Any]]) -> None:
        try:
            for event in events:
                key = event["run_id"].encode()
                self.producer.send(FLOW_EVENTS_TOPIC, key=key, value=event, partition=self._partition_of(key))
        except Exception as exc:  # noqa: BLE001 - kept for the next flush, which raises it as its own failure
            log.warning("run events could not be handed to the producer: %s", exc)
            self._send_error = exc

    async def flush_async(self) -> None:
        """Wait until everything emitted so far is acknowledged; concurrent callers share one flush."""
        target = self._emitted
        while self._flushed < target:
            if self._flushing is None or self._flushing.done():
                self._flushing = asyncio.ensure_future(self._flush_upto(self._emitted))
            await asyncio.shield(self._flushing)

    def flush_soon(self) -> None:
        """Start flushing what was emitted so far without waiting: a :meth:`flush_async` later (before the
        write that needs it) waits for this flush instead of starting one, so it overlaps a round trip.

        The target is counted now and the flush starts on the loop's next turn, after the sends of
        :meth:`emit_soon` scheduled before it: a flush never counts an event it did not send.
        """
        asyncio.get_running_loop().call_soon(self._start_flush, self._emitted)

    def _start_flush(self, target: int) -> None:
        if self._flushed >= target or (self._flushing is not None and not self._flushing.done()):
            return
        self._flushing = asyncio.ensure_future(self._flush_upto(target))
        self._flushing.add_done_callback(_retrieved)

    async def _flush_upto(self, target: int) -> None:
        await asyncio.to_thread(self.flush)
        self._flushed = max(self._flushed, target)

    def _partition_of(self, key: bytes) -> int:
        """The partition the producer's default partitioner picks for ``key``, worked out once per run.

        The same murmur2 hash as the default partitioner (a run's events stay
        on the partition its first event went to), without its cost on every
        send: it took a third of a send's CPU time, three sends per chain hop.
        """
        partition = self._partitions.get(key)
        if partition is None:
            if len(self._partitions) > PARTITION_CACHE_SIZE:
                self._partitions.clear()
            partitions = sorted(self.producer.partitions_for(FLOW_EVENTS_TOPIC))
            partition = self._partitions[key] = partitions[(murmur2(key) & 0x7FFFFFFF) % len(partitions)]
        return partition

    def flush(self) -> None:
        """Wait until everything emitted is acknowledged; raises when Kafka is unreachable."""
        error, self._send_error = self._send_error, None
        if error is not None:
            raise error
        if self._producer is not None:
            self._producer.flush(timeout=self.settings.kafka_timeout_ms / 1000)

    def publish(self, event: dict[str, Any]) -> tuple[int, int]:
        """Emit one event and wait for it (sent at once, not after the linger); returns its (partition, offset)."""
        sent = self.producer.send(FLOW_EVENTS_TOPIC, key=event["run_id"], value=event)
        self.producer.flush(timeout=self.settings.kafka_timeout_ms / 1000)
        metadata = sent.get(timeout=self.settings.kafka_timeout_ms / 1000)
        return metadata.partition, metadata.offset

    async def emit_all(self, events: list[dict[str, Any]]) -> None:
        """Emit ``events`` and wait for the broker, off the event loop."""
        if events:
            await asyncio.to_thread(self._emit_and_flush, events)

    def _emit_and_flush(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.producer.send(FLOW_EVENTS_TOPIC, key=event["run_id"], value=event)
        self.flush()

    def ring_doorbell(self, run_id: str) -> None:
        """Tell idle executors that tasks of ``run_id`` were queued (best effort: they poll the queue anyway).

        The sends run in one worker thread at a time, not awaited (a send may
        block while the producer fetches the topic's metadata, or Kafka is
        down); rings asked for meanwhile go out after the one in flight, so
        every queue insert is followed by a ring and a Kafka outage holds at
        most one thread.
        """
        with self._lock:
            self._rings.append(run_id)
            if self._ringing:
                return
            self._ringing = True
        asyncio.get_running_loop().run_in_executor(None, self._ring_pending)

    def _ring_pending(self) -> None:
        while True:
            with self._lock:
                run_ids, self._rings = self._rings, []
                if not run_ids:
                    self._ringing = False
                    return
            try:
                for run_id in dict.fromkeys(run_ids):
                    self.producer.send(DOORBELL_TOPIC, value=run_id.encode())
                self.producer.flush(timeout=self.settings.kafka_timeout_ms / 1000)  # ring now, not after the linger
            except Exception as exc:  # noqa: BLE001 - the executors' poll finds the tasks anyway
                log.debug("ringing the task queue doorbell failed: %s", exc)

    async def publish_async(self, event: dict[str, Any]) -> tuple[int, int]:
        return await asyncio.to_thread(self.publish, event)

    def close(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=5)
            except Exception:
                log.warning("closing the event producer failed", exc_info=True)
            self._producer = None


def _retrieved(flush: asyncio.Future[None]) -> None:
    """A flush started early fails again for whoever waits for it; its error is not lost, nor logged twice."""
    if not flush.cancelled():
        flush.exception()
