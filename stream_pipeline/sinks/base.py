"""The sink interface: write a batch so that it is durable when :meth:`Sink.write` returns.

The worker commits the consumed offsets only after ``write`` returned, which
is what makes delivery at least once. ``write`` returns the records the
destination refused for reasons of their own (a document it cannot store, a
row that violates a constraint, a webhook answering 4xx); they become dead
letters. Anything it raises instead means "the destination is not available
right now": the worker keeps the batch and tries again with backoff, without
committing, however long that takes.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from stream_pipeline.records import DeadLetter, Record
from stream_pipeline.steps.base import StepContext


class SinkConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Sink(ABC):
    type: ClassVar[str]
    config_model: ClassVar[type[SinkConfig]]

    def __init__(self, config: Any, context: StepContext) -> None:
        self.config = config
        self.context = context
        self.label = f"sink {self.type}"

    def open(self) -> None:  # noqa: B027 - most sinks need no preparation
        """Prepare (create a topic, read a table's columns); may raise when the destination is down."""

    @abstractmethod
    def write(self, records: list[Record]) -> list[DeadLetter]:
        """Write ``records`` durably; return those refused for good."""

    def close(self) -> None:  # noqa: B027 - most sinks hold nothing
        """Release connections."""

    def refuse(self, record: Record, error_type: str, message: str) -> DeadLetter:
        return DeadLetter(record, stage=self.label, error_type=error_type, message=message[:4000])


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, as every sink writes values (one encoder: json.dumps would build one per call)."""
    return _ENCODER.encode(value).encode()


class TransientSinkError(ConnectionError):
    """The destination is unavailable right now; the batch will be written again later."""
