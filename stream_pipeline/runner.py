"""One pipeline running in a worker: consume a batch, process it, write it, then commit.

A :class:`PipelineRunner` is a thread owning one consumer in the pipeline's
consumer group, so Kafka spreads the source partitions over every worker
running the pipeline and moves them when a worker joins or dies. Each turn:

1. poll up to ``batch.max_records`` messages;
2. decode and run them through the steps (failures become dead letters);
3. write the results to the sink, retrying while it is unavailable;
4. write the dead letters to the dead-letter topic, retrying likewise;
5. commit, per partition, the offset after the last message processed, but
   no further than the lowest offset a window still holds, with the steps'
   checkpoint in the commit metadata.

Nothing is committed before the sink holds the batch, so a crash between two
steps redelivers, never loses (at least once; idempotent sinks make it
effectively exactly once). A message is never retried in place: one that
fails goes to the dead-letter topic and its partition moves on.

An edited definition reaches the runner through :meth:`PipelineRunner.update`
and is applied between two batches: in place when the source is unchanged,
with a fresh consumer otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from kafka import ConsumerRebalanceListener, OffsetAndMetadata, TopicPartition
from kafka.errors import CommitFailedError, IllegalStateError, KafkaError

from common.kafka import TopicSpec, create_consumer, create_producer, ensure_topics
from common.settings import Settings
from stream_pipeline.dead_letters import encode_dead_letter, replay_topic
from stream_pipeline.models import Pipeline
from stream_pipeline.processing import Processor
from stream_pipeline.records import DeadLetter, Record
from stream_pipeline.settings import StreamSettings
from stream_pipeline.sinks import Sink, build_sink
from stream_pipeline.steps import StepContext

log = logging.getLogger(__name__)

T = TypeVar("T")


JOIN_DEADLINE_S = 45.0  # longest a consumer may spend joining its group before it is replaced


class ConsumerStuck(Exception):
    """The consumer did not become a group member in time; the runner starts over with a new one."""


class RunnerStopped(Exception):
    """The runner was asked to stop while it waited for a destination; the batch stays uncommitted."""


@dataclass
class RunnerStats:
    """Counters the worker reports in its heartbeat; written by the runner thread, read by the reporter."""

    messages_in: int = 0
    messages_out: int = 0
    dead_letters: int = 0
    batches: int = 0
    last_error: dict[str, Any] | None = None
    state: str = "starting"
    partitions: dict[tuple[str, int], dict[str, int | None]] = field(default_factory=dict)
    version: int = 0

    def error(self, stage: str, exc: BaseException) -> None:
        self.last_error = {
            "at": time.time(),
            "stage": stage,
            "type": type(exc).__name__,
            "message": str(exc)[:2000],
        }


class _Rebalance(ConsumerRebalanceListener):
    def __init__(self, runner: PipelineRunner) -> None:
        self.runner = runner

    def on_partitions_revoked(self, revoked: Any) -> None:
        self.runner.assignment_changed = True

    def on_partitions_assigned(self, assigned: Any) -> None:
        self.runner.assignment_changed = True


class PipelineRunner(threading.Thread):
    def __init__(
        self, pipeline: Pipeline, *, settings: Settings, stream_settings: StreamSettings, worker_id: str
    ) -> None:
        super().__init__(name=f"pipeline-{pipeline.id}", daemon=True)
        self.pipeline = pipeline
        self.settings = settings
        self.stream_settings = stream_settings
        self.worker_id = worker_id
        self.stats = RunnerStats(version=pipeline.version)
        self.stopping = threading.Event()
        self._pending: Pipeline | None = None
        self._lock = threading.Lock()
        self.consumer: Any = None
        self.dead_letter_producer: Any = None
        self.processor: Processor | None = None
        self.sink: Sink | None = None
        self.context: StepContext | None = None
        self.assignment_changed = False
        self.processed: dict[TopicPartition, int] = {}  # next offset to process, per partition
        self.replay_until: dict[TopicPartition, int] = {}  # below this, a message was processed before
        self.turned_at = time.monotonic()  # last turn of the loop (or of a retry wait)
        self.unjoined_since: float | None = None

    # -- control from the worker ------------------------------------------------------------------

    def update(self, pipeline: Pipeline) -> None:
        """Apply ``pipeline`` (a newer version) between two batches."""
        with self._lock:
            self._pending = pipeline

    def take_update(self) -> Pipeline | None:
        with self._lock:
            pending, self._pending = self._pending, None
        return pending

    def stop(self) -> None:
        self.stopping.set()

    def stuck_for(self) -> float:
        """Seconds since the loop last turned, while the thread should be turning it."""
        if not self.is_alive() or self.stopping.is_set():
            return 0.0
        return time.monotonic() - self.turned_at

    # -- the thread --------------------------------------------------------------------------------

    def run(self) -> None:
        delay = 1.0
        while not self.stopping.is_set():
            pending = self.take_update()
            if pending is not None:
                self.pipeline = pending
            try:
                self.open()
                delay = 1.0
                self.loop()
            except RunnerStopped:
                break
            except Exception as exc:  # noqa: BLE001 - reported in the status; the runner starts over
                self.stats.error("runner", exc)
                self.stats.state = "failing"
                log.warning(
                    "pipeline %s: %s: %s; restarting in %.0fs",
                    self.pipeline.id,
                    type(exc).__name__,
                    exc,
                    delay,
                    extra={"pipeline": self.pipeline.id},
                )
                self.close()
                self._wait_or_update(delay)
                delay = min(delay * 2, self.stream_settings.sink_retry_max_s)
            else:
                self.close()
        self.close()
        self.stats.state = "stopped"

    def _wait_or_update(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping.is_set() and time.monotonic() < deadline:
            with self._lock:
                if self._pending is not None:
                    return
            self.stopping.wait(0.2)

    def open(self) -> None:
        pipeline = self.pipeline
        self.stats.state = "starting"
        self.stats.version = pipeline.version
        ensure_topics(
            self.settings,
            [TopicSpec(name=pipeline.dead_letter_topic), TopicSpec(name=replay_topic(pipeline.id))],
        )
        self.context = StepContext(pipeline_id=pipeline.id, settings=self.settings)
        self.processor = Processor(pipeline.source.format, pipeline.steps, self.context)
        self.sink = build_sink(pipeline.sink, self.context)
        self.sink.open()
        self.dead_letter_producer = create_producer(self.settings, value_serializer=None, key_serializer=None)
        self.consumer = create_consumer(
            self.settings,
            group_id=pipeline.group,
            auto_offset_reset=pipeline.source.start,
            max_poll_records=pipeline.batch.max_records,
            session_timeout_ms=self.stream_settings.session_timeout_ms,
            heartbeat_interval_ms=self.stream_settings.heartbeat_interval_ms,
            metadata_max_age_ms=5000,
            fetch_max_wait_ms=max(pipeline.batch.max_wait_ms, 10),
            client_id=f"dataflow-stream-{pipeline.id}-{self.worker_id}",
        )
        self.consumer.subscribe([*pipeline.source.topics, replay_topic(pipeline.id)], listener=_Rebalance(self))
        self.processed.clear()
        self.replay_until.clear()
        self.stats.state = "running"
        log.info(
            "pipeline %s version %d running",
            pipeline.id,
            pipeline.version,
            extra={"pipeline": pipeline.id, "version": pipeline.version},
        )

    def close(self) -> None:
        for name in ("consumer", "dead_letter_producer", "sink", "processor", "context"):
            part = getattr(self, name)
            if part is None:
                continue
            setattr(self, name, None)
            try:
                part.close(**({"timeout": 5} if name == "dead_letter_producer" else {}))
            except Exception:
                log.warning("pipeline %s: closing its %s failed", self.pipeline.id, name, exc_info=True)

    # -- the loop ------------------------------------------------------------------------------------

    def loop(self) -> None:
        self.unjoined_since = time.monotonic()
        while not self.stopping.is_set():
            self.turned_at = time.monotonic()
            self.check_membership()
            pending = self.take_update()
            if pending is not None and not self.apply_in_place(pending):
                self.pipeline = pending
                self.close()
                self.open()
            batch = self.pipeline.batch
            polled = self.consumer.poll(timeout_ms=batch.max_wait_ms or 100, max_records=batch.max_records)
            if self.assignment_changed:
                self.assignment_changed = False
                if self.on_assignment(polled):
                    continue
            if polled:
                self.handle(polled)
            self.track_partitions()

    def check_membership(self) -> None:
        """Start over with a new consumer if this one never becomes a stable group member.

        A consumer that owns no partitions because the group has more members
        than partitions is stable and left alone; one stuck joining (seen with
        kafka-python 3.0 under heavy load) is replaced.
        """
        coordinator = getattr(self.consumer, "_coordinator", None)
        state = str(getattr(coordinator, "state", "")).lower()
        if not state or "stable" in state or self.consumer.assignment():
            self.unjoined_since = None
            return
        if self.unjoined_since is None:
            self.unjoined_since = time.monotonic()
        elif time.monotonic() - self.unjoined_since > JOIN_DEADLINE_S:
            raise ConsumerStuck(f"the consumer has not joined group {self.pipeline.group!r} in {JOIN_DEADLINE_S:.0f}s")

    def apply_in_place(self, pipeline: Pipeline) -> bool:
        """Swap steps, sink and batch options while keeping the consumer; False if the source changed."""
        current = self.pipeline
        if (
            pipeline.source != current.source
            or pipeline.group != current.group
            or pipeline.dead_letter_topic != current.dead_letter_topic
        ):
            return False
        assert self.processor is not None and self.context is not None
        processor = Processor(pipeline.source.format, pipeline.steps, self.context)
        sink = self.sink
        if pipeline.sink != current.sink:
            sink = build_sink(pipeline.sink, self.context)
            sink.open()
            assert self.sink is not None
            self.sink.close()
        was_stateful = self.processor.stateful
        self.processor.close()
        self.processor, self.sink, self.pipeline = processor, sink, pipeline
        self.stats.version = pipeline.version
        if was_stateful:
            self.rewind()  # the old steps' state is gone: rebuild it from the committed offsets
        log.info(
            "pipeline %s now at version %d",
            pipeline.id,
            pipeline.version,
            extra={"pipeline": pipeline.id, "version": pipeline.version},
        )
        return True

    def on_assignment(self, polled: dict[TopicPartition, list[Any]]) -> bool:
        """After a rebalance: forget revoked partitions; stateful steps restart from the commits.

        Returns True when the polled messages must be dropped (they are fetched again).
        """
        assigned = set(self.consumer.assignment())
        for tp in list(self.processed):
            if tp not in assigned:
                del self.processed[tp]
                self.stats.partitions.pop((tp.topic, tp.partition), None)
        log.info(
            "pipeline %s: assigned %s",
            self.pipeline.id,
            sorted(f"{tp.topic}:{tp.partition}" for tp in assigned),
            extra={"pipeline": self.pipeline.id},
        )
        assert self.processor is not None
        if not self.processor.stateful:
            return False
        self.rewind(polled)
        return True

    def rewind(self, abandoned: dict[TopicPartition, list[Any]] | None = None) -> None:
        """Reset step state and go back to the committed offsets, restoring the steps' checkpoints.

        A partition without a committed offset goes back to the first message
        of the ``abandoned`` batch, so nothing polled is skipped.
        """
        assert self.processor is not None
        self.processor.reset()
        self.processed.clear()
        self.replay_until.clear()
        for tp in self.consumer.assignment():
            committed = self.consumer.committed(tp, metadata=True)
            if committed is None or committed.offset is None or committed.offset < 0:
                if abandoned and abandoned.get(tp):
                    self.consumer.seek(tp, abandoned[tp][0].offset)
                continue
            self.consumer.seek(tp, committed.offset)
            metadata = _parse_metadata(committed.metadata)
            self.processor.restore(json.dumps(metadata.get("checkpoint")) if metadata.get("checkpoint") else None)
            if isinstance(metadata.get("done"), int) and metadata["done"] > committed.offset:
                self.replay_until[tp] = metadata["done"]

    def handle(self, polled: dict[TopicPartition, list[Any]]) -> None:
        assert self.processor is not None and self.sink is not None
        messages = [message for batch in polled.values() for message in batch]
        dead: list[DeadLetter] = []
        records = self.processor.decode(messages, dead)
        if self.replay_until:
            self.mark_replays(records)
        try:
            output = self.processor.run(records, dead)
        except Exception as exc:  # noqa: BLE001 - see below
            # Not a record's fault (enrich's MongoDB is down): redo from the committed offsets later.
            self.stats.error("steps", exc)
            log.warning("pipeline %s: steps failed, rewinding: %s", self.pipeline.id, exc)
            self.rewind(polled)
            self.stopping.wait(1.0)
            return
        if output:
            sink = self.sink
            dead.extend(self.retrying("sink", lambda: sink.write(output)))
        if dead:
            self.retrying("dead_letters", lambda: self.write_dead_letters(dead))
        for tp, batch in polled.items():
            self.processed[tp] = batch[-1].offset + 1
        self.commit()
        stats = self.stats
        stats.messages_in += len(messages)
        stats.messages_out += len(output)
        stats.dead_letters += len(dead)
        stats.batches += 1

    def mark_replays(self, records: list[Record]) -> None:
        """Flag messages processed before a restart, so windows do not call them late."""
        for record in records:
            until = self.replay_until.get(TopicPartition(record.topic, record.partition))
            if until is not None and record.offset < until:
                record.replay = True

    def retrying(self, stage: str, operation: Callable[[], T]) -> T:
        """``operation()`` until it succeeds; the batch waits (uncommitted) meanwhile."""
        delay = 0.5
        while True:
            try:
                return operation()
            except Exception as exc:  # noqa: BLE001 - the destination is unavailable: wait and retry
                self.stats.error(stage, exc)
                self.stats.state = f"waiting for {stage}"
                log.warning(
                    "pipeline %s: writing to %s failed, retrying in %.1fs: %s: %s",
                    self.pipeline.id,
                    stage,
                    delay,
                    type(exc).__name__,
                    exc,
                    extra={"pipeline": self.pipeline.id},
                )
            self.turned_at = time.monotonic()
            if self.stopping.wait(delay):
                raise RunnerStopped
            self.turned_at = time.monotonic()
            delay = min(delay * 2, self.stream_settings.sink_retry_max_s)
            if stage == "sink" and self.sink is not None:
                self.reopen_sink()
            self.stats.state = "running"

    def reopen_sink(self) -> None:
        assert self.sink is not None
        try:
            self.sink.close()
        except Exception:
            log.debug("closing the sink failed", exc_info=True)

    def write_dead_letters(self, dead: list[DeadLetter]) -> None:
        pipeline = self.pipeline
        futures = []
        for letter in dead:
            key, value = encode_dead_letter(letter, pipeline.id, pipeline.version)
            futures.append(self.dead_letter_producer.send(pipeline.dead_letter_topic, value=value, key=key))
        self.dead_letter_producer.flush()
        for future in futures:
            if future.failed():
                raise future.exception

    def commit(self) -> None:
        assert self.processor is not None
        held = self.processor.held_offsets() if self.processor.stateful else {}
        checkpoint = self.processor.checkpoint() if held or self.processor.stateful else ""
        offsets = {}
        for tp, done in self.processed.items():
            offset = min(done, held.get((tp.topic, tp.partition), done))
            metadata = json.dumps({"done": done, "checkpoint": json.loads(checkpoint)}) if checkpoint else ""
            offsets[tp] = OffsetAndMetadata(offset, metadata, -1)
        if not offsets:
            return
        try:
            self.consumer.commit(offsets)
        except (CommitFailedError, IllegalStateError) as exc:
            # The group rebalanced while we worked: the new owner redelivers what we could not commit.
            log.info("pipeline %s: commit refused after a rebalance: %s", self.pipeline.id, exc)
            self.assignment_changed = True
        except KafkaError as exc:
            self.stats.error("commit", exc)
            log.warning("pipeline %s: commit failed (the batch will be redelivered): %s", self.pipeline.id, exc)
        for tp, meta in offsets.items():
            entry = self.stats.partitions.get((tp.topic, tp.partition))
            if entry is not None:
                entry["committed"] = meta.offset

    def track_partitions(self) -> None:
        consumer = self.consumer
        if consumer is None:
            return
        assignment = consumer.assignment()
        owned = {(tp.topic, tp.partition) for tp in assignment}
        for stale in [partition for partition in self.stats.partitions if partition not in owned]:
            self.stats.partitions.pop(stale, None)
        for tp in assignment:
            entry = self.stats.partitions.setdefault((tp.topic, tp.partition), {})
            entry["position"] = self.processed.get(tp, entry.get("position"))
            highwater = consumer.highwater(tp)
            if highwater is not None:
                entry["end"] = highwater


def _parse_metadata(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
