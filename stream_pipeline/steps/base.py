"""The step interface: what every step type implements, and the context it runs in.

A step takes a batch of records and returns the records that go on; a record
it cannot handle becomes a :class:`~stream_pipeline.records.DeadLetter`
appended to ``dead``, and processing continues with the rest. Steps work on
batches so that a step with I/O (enrich) can make one query per batch, and a
stateless step pays one Python loop per batch rather than a call per record.

Stateful steps (dedupe, windows) keep their state in memory and say which
source offsets they still depend on (:meth:`Step.held_offsets`), so the worker
never commits past a record whose effect has not been emitted yet; their small
progress marker (a window's watermark) travels in the commit's metadata
(:meth:`Step.checkpoint`, :meth:`Step.restore`).
"""

from __future__ import annotations

import datetime as dt
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from common.settings import Settings
from stream_pipeline.records import DeadLetter, Record, get_path


class StepConfig(BaseModel):
    """Fields every step has; each step type adds its own and a literal ``type``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(None, max_length=100, description="a label shown in dead letters and errors")


@dataclass(kw_only=True)
class StepContext:
    """What steps and sinks may use: settings and a lazily opened blocking MongoDB client."""

    pipeline_id: str
    settings: Settings
    _mongo: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def mongo_database(self, name: str | None = None) -> Any:
        """A pymongo (blocking) database: ``name`` or the one in ``DATAFLOW_MONGO_URI``."""
        with self._lock:
            if self._mongo is None:
                from pymongo import MongoClient

                self._mongo = MongoClient(
                    self.settings.mongo_uri,
                    serverSelectionTimeoutMS=self.settings.mongo_timeout_ms,
                    connectTimeoutMS=self.settings.mongo_timeout_ms,
                    appname=f"dataflow-stream-{self.pipeline_id}",
                )
        return self._mongo[name] if name else self._mongo.get_default_database(default="dataflow")

    def close(self) -> None:
        with self._lock:
            if self._mongo is not None:
                self._mongo.close()
                self._mongo = None


class Step(ABC):
    """One stage of a pipeline; see the module docstring."""

    type: ClassVar[str]
    config_model: ClassVar[type[StepConfig]]

    def __init__(self, config: Any, context: StepContext, index: int) -> None:
        self.config = config
        self.context = context
        self.label = f"steps[{index}] {self.type}" + (f" {config.name!r}" if config.name else "")

    @abstractmethod
    def process(self, records: list[Record], dead: list[DeadLetter]) -> list[Record]:
        """The records that go on; failures are appended to ``dead``."""

    def held_offsets(self) -> dict[tuple[str, int], int]:
        """Per (topic, partition), the lowest offset whose effect this step still holds unemitted."""
        return {}

    def checkpoint(self) -> Any:
        """A small JSON value saved with each commit (at most a few hundred bytes)."""
        return None

    def restore(self, checkpoint: Any) -> None:  # noqa: B027 - stateless steps have nothing to restore
        """Take back what :meth:`checkpoint` saved, after partitions were (re)assigned."""

    def reset(self) -> None:  # noqa: B027 - stateless steps have nothing to forget
        """Forget in-memory state: the worker replays from the committed offsets."""

    def drain(self) -> list[Record]:
        """Emit everything still held (a preview's end of input)."""
        return []

    def close(self) -> None:  # noqa: B027 - most steps open nothing
        """Release what the step opened."""


class RecordStep(Step):
    """A step that maps one record to one record or none."""

    @abstractmethod
    def apply(self, record: Record) -> Record | None:
        """The record that goes on (possibly changed in place), or ``None`` to drop it; raise to dead-letter it."""

    def process(self, records: list[Record], dead: list[DeadLetter]) -> list[Record]:
        survivors: list[Record] = []
        append, apply = survivors.append, self.apply
        for record in records:
            try:
                result = apply(record)
            except Exception as exc:  # noqa: BLE001 - any failure on one record dead-letters that record only
                dead.append(DeadLetter.from_exception(record, self.label, exc))
                continue
            if result is not None:
                append(result)
        return survivors


class StepError(ValueError):
    """A record a step rejects (for a reason of its own, not a bug)."""


def require_object(record: Record, step: str) -> dict[str, Any]:
    value = record.value
    if type(value) is not dict:
        raise StepError(f"{step} needs a JSON object message, got {type(value).__name__}")
    return value


def event_time_ms(record: Record, time_field: tuple[str, ...] | None) -> int:
    """A record's event time in epoch milliseconds: the field's value, or the Kafka timestamp.

    Numbers above 10^11 are taken as milliseconds, smaller ones as seconds;
    strings as ISO 8601 (a missing zone means UTC).
    """
    if time_field is None:
        if record.timestamp is None:
            raise StepError("the record has no Kafka timestamp; set time_field")
        return int(record.timestamp)
    value = get_path(record.value, time_field)
    if isinstance(value, bool) or value is None:
        raise StepError(f"event time field {'.'.join(time_field)!r} is missing or not a time")
    if isinstance(value, int | float):
        return int(value if abs(value) >= 1e11 else value * 1000)
    if isinstance(value, str):
        try:
            moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise StepError(f"event time field {'.'.join(time_field)!r} is not ISO 8601: {value[:40]!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        return int(moment.timestamp() * 1000)
    raise StepError(f"event time field {'.'.join(time_field)!r} is a {type(value).__name__}, not a time")


def iso_ms(epoch_ms: int) -> str:
    """Epoch milliseconds as ISO 8601 UTC with a ``Z``."""
    moment = dt.datetime.fromtimestamp(epoch_ms / 1000, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
