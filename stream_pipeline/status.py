"""A pipeline's status: Kafka's view (per-partition committed offsets and lag) plus the workers' heartbeats.

Lag comes from Kafka itself (the group's committed offsets against the end
of each partition), so it is right even when no worker runs. Rates, the
partition-to-worker map and the last error come from the heartbeats workers
write every few seconds; a heartbeat older than ``STATUS_FRESH_S`` is a worker
that stopped or died and no longer counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import TopicPartition
from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase

from common.kafka import create_admin, create_consumer
from common.settings import Settings
from stream_pipeline.constants import STATUS_FRESH_S, WORKER_STATUS_COLLECTION
from stream_pipeline.dead_letters import replay_topic
from stream_pipeline.models import Pipeline


class PartitionStatus(BaseModel):
    topic: str
    partition: int
    end_offset: int | None
    committed: int | None = Field(description="the group's committed offset (the next message to process)")
    lag: int | None = Field(description="messages not yet processed and committed")
    worker_id: str | None = Field(description="the worker that has the partition now")


class Rates(BaseModel):
    in_per_s: float
    out_per_s: float
    dead_letters_per_s: float


class WorkerStatus(BaseModel):
    worker_id: str
    state: str
    version: int
    heartbeat_at: datetime
    partitions: list[dict[str, Any]]
    totals: dict[str, int]
    rates: Rates
    last_error: dict[str, Any] | None


class PipelineStatus(BaseModel):
    pipeline_id: str
    state: str
    version: int
    group: str
    running_version: int | None = Field(description="the version the workers run (null when none runs)")
    workers: list[WorkerStatus]
    partitions: list[PartitionStatus]
    lag: int | None
    rates: Rates
    last_error: dict[str, Any] | None
    kafka_error: str | None = Field(None, description="set when Kafka could not be asked for offsets")


class KafkaInspector:
    """One admin client and one group-less consumer, reused across status calls (from a thread)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._admin: Any = None
        self._consumer: Any = None

    def offsets(self, group: str, topics: list[str]) -> list[dict[str, Any]]:
        with self._lock:
            try:
                if self._admin is None:
                    self._admin = create_admin(self.settings)
                    self._consumer = create_consumer(self.settings, group_id=None)
                self._consumer.topics()  # refresh metadata: topics may have been created since
                partitions = [
                    TopicPartition(topic, number)
                    for topic in topics
                    for number in sorted(self._consumer.partitions_for_topic(topic) or ())
                ]
                ends = self._consumer.end_offsets(partitions) if partitions else {}
                committed = self._admin.list_group_offsets({group: partitions or None}).get(group, {})
            except Exception:
                self._close()
                raise
        rows = []
        for tp in partitions:
            end = ends.get(tp)
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset is not None and meta.offset >= 0 else None
            lag = None if end is None else end - (offset or 0)
            rows.append(
                {"topic": tp.topic, "partition": tp.partition, "end_offset": end, "committed": offset, "lag": lag}
            )
        return rows

    def _close(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                with contextlib.suppress(Exception):  # a broken client is dropped either way
                    client.close()
        self._admin = self._consumer = None

    def close(self) -> None:
        with self._lock:
            self._close()


async def pipeline_status(db: AsyncDatabase, inspector: KafkaInspector, pipeline: Pipeline) -> PipelineStatus:
    fresh_since = datetime.now(UTC) - timedelta(seconds=STATUS_FRESH_S)
    beats = await db[WORKER_STATUS_COLLECTION].find({"pipeline_id": pipeline.id}).to_list()
    workers = [WorkerStatus.model_validate(beat) for beat in beats if _aware(beat["heartbeat_at"]) >= fresh_since]
    owners = {
        (entry["topic"], entry["partition"]): worker.worker_id for worker in workers for entry in worker.partitions
    }
    kafka_error = None
    topics = [*pipeline.source.topics, replay_topic(pipeline.id)]
    try:
        rows = await asyncio.wait_for(asyncio.to_thread(inspector.offsets, pipeline.group, topics), 15)
    except Exception as exc:  # noqa: BLE001 - the status still answers with what the workers said
        rows, kafka_error = [], f"{type(exc).__name__}: {exc}"[:500]
    partitions = [PartitionStatus(**row, worker_id=owners.get((row["topic"], row["partition"]))) for row in rows]
    lags = [partition.lag for partition in partitions if partition.lag is not None]
    errors = [worker.last_error for worker in workers if worker.last_error]
    return PipelineStatus(
        pipeline_id=pipeline.id,
        state=pipeline.state.value,
        version=pipeline.version,
        group=pipeline.group,
        running_version=max((worker.version for worker in workers), default=None),
        workers=workers,
        partitions=partitions,
        lag=sum(lags) if lags else (None if kafka_error else 0),
        rates=Rates(
            in_per_s=sum(worker.rates.in_per_s for worker in workers),
            out_per_s=sum(worker.rates.out_per_s for worker in workers),
            dead_letters_per_s=sum(worker.rates.dead_letters_per_s for worker in workers),
        ),
        last_error=max(errors, key=lambda error: error.get("at", 0), default=None),
        kafka_error=kafka_error,
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
