"""Dead letters: their format on the dead-letter topic, browsing them, and replaying them.

A dead letter is a JSON message on the pipeline's dead-letter topic, keyed
like the original, holding everything needed to understand and redo it::

    {"pipeline": "orders-clean", "pipeline_version": 3, "stage": "steps[0] filter",
     "error": {"type": "ExpressionError", "message": "..."},
     "source": {"topic": "orders", "partition": 2, "offset": 1041, "timestamp": 1718000000000,
                "key_base64": "b3JkZXItNw=="},
     "value_base64": "eyJhbW91bnQiOiAxMn0=", "value_text": "{\\"amount\\": 12}",
     "failed_at": "2024-06-10T08:00:00.123Z"}

``value_base64`` is the original message, byte for byte; ``value_text`` is
the same when it is UTF-8, for reading. Replaying produces the original bytes
and key to the pipeline's replay topic (which its workers also consume), with
headers naming the original topic, partition and offset, so a message that
fails again is dead-lettered with its true origin. The user's source topic is
never written to, so other consumers of it see nothing twice.

The functions here block (kafka-python); the API calls them in a thread.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from datetime import UTC, datetime
from typing import Any

from kafka import TopicPartition

from common.errors import NotFound
from common.kafka import TopicSpec, create_consumer, create_producer, ensure_topics
from common.settings import Settings
from stream_pipeline.constants import (
    REPLAY_HEADER_OFFSET,
    REPLAY_HEADER_PARTITION,
    REPLAY_HEADER_TOPIC,
    REPLAY_TOPIC_TEMPLATE,
    REPLAYS_COLLECTION,
)
from stream_pipeline.records import DeadLetter
from stream_pipeline.sinks.base import json_bytes

READ_DEADLINE_S = 10.0


def replay_topic(pipeline_id: str) -> str:
    return REPLAY_TOPIC_TEMPLATE.format(pipeline_id=pipeline_id)


def encode_dead_letter(letter: DeadLetter, pipeline_id: str, version: int) -> tuple[bytes | None, bytes]:
    """(key, value) of the dead-letter message for ``letter``."""
    record = letter.record
    topic, partition, offset = record.source
    raw = record.raw if record.raw is not None else json_bytes(record.value)
    body: dict[str, Any] = {
        "pipeline": pipeline_id,
        "pipeline_version": version,
        "stage": letter.stage,
        "error": {"type": letter.error_type, "message": letter.message},
        "source": {
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "timestamp": record.timestamp,
            "key_base64": base64.b64encode(record.key).decode() if record.key is not None else None,
        },
        "value_base64": base64.b64encode(raw).decode(),
        "failed_at": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    try:
        body["value_text"] = raw.decode("utf-8")
    except UnicodeDecodeError:
        body["value_text"] = None
    return record.key, json_bytes(body)


def read_dead_letters(
    settings: Settings, topic: str, *, limit: int, partition: int | None = None, before: int | None = None
) -> list[dict[str, Any]]:
    """The newest ``limit`` dead letters of each partition (or those below offset ``before``), newest first."""
    consumer = create_consumer(settings, group_id=None, enable_auto_commit=False, consumer_timeout_ms=1000)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        if partition is not None:
            partitions = partitions & {partition}
        assigned = [TopicPartition(topic, number) for number in sorted(partitions)]
        if not assigned:
            return []
        consumer.assign(assigned)
        beginnings, ends = consumer.beginning_offsets(assigned), consumer.end_offsets(assigned)
        wanted: dict[TopicPartition, int] = {}
        for tp in assigned:
            end = ends[tp] if before is None else min(ends[tp], before)
            start = max(beginnings[tp], end - limit)
            if end > start:
                consumer.seek(tp, start)
                wanted[tp] = end
            else:
                consumer.pause(tp)
        letters: list[dict[str, Any]] = []
        deadline = time.monotonic() + READ_DEADLINE_S
        while wanted and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                if tp in wanted:
                    letters.extend(_decoded(message) for message in messages if message.offset < wanted[tp])
                if tp in wanted and consumer.position(tp) >= wanted[tp]:
                    del wanted[tp]
                    consumer.pause(tp)
        letters.sort(key=lambda letter: (letter["dead_letter"]["timestamp"] or 0, letter["dead_letter"]["offset"]))
        letters.reverse()
        return letters[:limit] if partition is None else letters
    finally:
        consumer.close()


def _decoded(message: Any) -> dict[str, Any]:
    try:
        body = json.loads(message.value)
        if not isinstance(body, dict):
            raise ValueError("not an object")
    except ValueError:
        body = {"error": {"type": "Unreadable", "message": "this message on the dead-letter topic is not ours"}}
    body["dead_letter"] = {"partition": message.partition, "offset": message.offset, "timestamp": message.timestamp}
    return body


def replay(
    settings: Settings, pipeline_id: str, letters: list[dict[str, Any]], *, partitions: int = 1
) -> tuple[str, int]:
    """Produce the original bytes of ``letters`` to the pipeline's replay topic; returns (topic, count)."""
    topic = replay_topic(pipeline_id)
    ensure_topics(settings, [TopicSpec(name=topic, partitions=partitions)])
    producer = create_producer(settings, value_serializer=None, key_serializer=None)
    try:
        count = 0
        for letter in letters:
            source = letter.get("source") or {}
            if "value_base64" not in letter or not source.get("topic"):
                continue
            key = base64.b64decode(source["key_base64"]) if source.get("key_base64") else None
            headers = [
                (REPLAY_HEADER_TOPIC, str(source["topic"]).encode()),
                (REPLAY_HEADER_PARTITION, str(source.get("partition", 0)).encode()),
                (REPLAY_HEADER_OFFSET, str(source.get("offset", -1)).encode()),
            ]
            producer.send(topic, value=base64.b64decode(letter["value_base64"]), key=key, headers=headers)
            count += 1
        producer.flush()
        return topic, count
    finally:
        producer.close(timeout=5)


def read_range(settings: Settings, topic: str, ranges: dict[int, tuple[int, int]]) -> list[dict[str, Any]]:
    """Dead letters at offsets ``[start, end)`` per partition, in offset order."""
    consumer = create_consumer(settings, group_id=None, enable_auto_commit=False)
    try:
        assigned = {TopicPartition(topic, partition): bounds for partition, bounds in ranges.items()}
        assigned = {tp: bounds for tp, bounds in assigned.items() if bounds[1] > bounds[0]}
        if not assigned:
            return []
        consumer.assign(list(assigned))
        for tp, (start, _) in assigned.items():
            consumer.seek(tp, start)
        letters: list[dict[str, Any]] = []
        pending = dict(assigned)
        deadline = time.monotonic() + READ_DEADLINE_S * 3
        while pending and time.monotonic() < deadline:
            for tp, messages in consumer.poll(timeout_ms=500).items():
                end = assigned[tp][1]
                letters.extend(_decoded(message) for message in messages if message.offset < end)
                if consumer.position(tp) >= end:
                    pending.pop(tp, None)
                    consumer.pause(tp)
        if pending:
            raise TimeoutError(f"could not read the dead letters of {topic} in time; try again")
        return letters
    finally:
        consumer.close()


def partition_ends(settings: Settings, topic: str) -> dict[int, tuple[int, int]]:
    """Per partition of ``topic``: (beginning, end) offsets; empty when the topic does not exist."""
    consumer = create_consumer(settings, group_id=None)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, number) for number in sorted(partitions)]
        if not tps:
            return {}
        beginnings, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return {tp.partition: (beginnings[tp], ends[tp]) for tp in tps}
    finally:
        consumer.close()


class DeadLetterOffice:
    """Browsing and replaying a pipeline's dead letters; remembers in MongoDB what was replayed.

    Per pipeline, one document holds, per dead-letter partition, the offset
    below which everything was replayed (``replay all``), plus the single
    offsets replayed one by one. Browsing marks each letter ``replayed``.
    """

    def __init__(self, db: Any, settings: Settings) -> None:
        self.collection = db[REPLAYS_COLLECTION]
        self.settings = settings
        self._lock = asyncio.Lock()

    async def marks(self, pipeline_id: str) -> tuple[dict[int, int], set[tuple[int, int]]]:
        document = await self.collection.find_one({"_id": pipeline_id}) or {}
        cursors = {int(partition): int(offset) for partition, offset in (document.get("partitions") or {}).items()}
        singles = {tuple(int(part) for part in item.split(":")) for item in document.get("offsets") or []}
        return cursors, singles  # type: ignore[return-value]

    async def browse(
        self, pipeline_id: str, topic: str, *, limit: int, partition: int | None, before: int | None
    ) -> list[dict[str, Any]]:
        letters = await asyncio.to_thread(
            read_dead_letters, self.settings, topic, limit=limit, partition=partition, before=before
        )
        cursors, singles = await self.marks(pipeline_id)
        for letter in letters:
            where = letter["dead_letter"]
            where["replayed"] = where["offset"] < cursors.get(where["partition"], 0) or (
                (where["partition"], where["offset"]) in singles
            )
        return letters

    async def replay(
        self, pipeline_id: str, topic: str, *, refs: list[tuple[int, int]] | None, limit: int
    ) -> dict[str, Any]:
        async with self._lock:
            if refs is not None:
                return await self._replay_some(pipeline_id, topic, refs)
            return await self._replay_pending(pipeline_id, topic, limit)

    async def _replay_pending(self, pipeline_id: str, topic: str, limit: int) -> dict[str, Any]:
        cursors, _ = await self.marks(pipeline_id)
        bounds = await asyncio.to_thread(partition_ends, self.settings, topic)
        ranges = {}
        for partition, (beginning, end) in bounds.items():
            start = max(beginning, cursors.get(partition, 0))
            ranges[partition] = (start, min(end, start + limit))
        letters = await asyncio.to_thread(read_range, self.settings, topic, ranges)
        target, count = await asyncio.to_thread(replay, self.settings, pipeline_id, letters)
        if ranges:
            await self.collection.update_one(
                {"_id": pipeline_id},
                {"$set": {f"partitions.{partition}": end for partition, (_, end) in ranges.items()}},
                upsert=True,
            )
        remaining = sum(bounds[partition][1] - end for partition, (_, end) in ranges.items())
        return {"replayed": count, "topic": target, "remaining": remaining}

    async def _replay_some(self, pipeline_id: str, topic: str, refs: list[tuple[int, int]]) -> dict[str, Any]:
        bounds = await asyncio.to_thread(partition_ends, self.settings, topic)
        missing = [
            f"{partition}:{offset}"
            for partition, offset in refs
            if partition not in bounds or not bounds[partition][0] <= offset < bounds[partition][1]
        ]
        if missing:
            raise NotFound("dead letter", ", ".join(missing[:20]))
        letters = []
        for partition, offset in sorted(set(refs)):
            letters.extend(await asyncio.to_thread(read_range, self.settings, topic, {partition: (offset, offset + 1)}))
        target, count = await asyncio.to_thread(replay, self.settings, pipeline_id, letters)
        await self.collection.update_one(
            {"_id": pipeline_id},
            {"$addToSet": {"offsets": {"$each": [f"{partition}:{offset}" for partition, offset in refs]}}},
            upsert=True,
        )
        return {"replayed": count, "topic": target, "remaining": None}
