"""Running a pipeline's steps on sample messages, without Kafka: what the designer shows.

Samples are given either as values (as if already decoded) or, with
``raw: true``, as strings decoded by the source format, so a malformed
message can be tried too. Windows are closed at the end of the samples
(``drain``) so their results show. Nothing is written anywhere; enrich steps
do read their MongoDB collection.
"""

from __future__ import annotations

import base64
import time
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from common.settings import Settings
from stream_pipeline.models import SourceFormat
from stream_pipeline.processing import Processor
from stream_pipeline.records import DeadLetter, Record
from stream_pipeline.steps import StepContext, StepDefinition

PREVIEW_TIMEOUT_S = 30.0


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[Any] = Field(min_length=1, max_length=1000, description="sample messages")
    raw: bool = Field(False, description="the messages are strings to decode with the source format")
    steps: list[StepDefinition] | None = Field(  # type: ignore[valid-type]
        None, description="steps to try instead of the saved ones (unsaved edits)"
    )
    drain: bool = Field(True, description="close open windows after the last sample")

    @model_validator(mode="after")
    def _raw_are_strings(self) -> PreviewRequest:
        if self.raw:
            bad = [index for index, item in enumerate(self.messages) if not isinstance(item, str)]
            if bad:
                raise ValueError(f"with raw: true every message must be a string; not at positions {bad[:20]}")
        return self


class PreviewDeadLetter(BaseModel):
    index: int = Field(description="position of the sample that failed")
    stage: str
    error: dict[str, str]


class PreviewResponse(BaseModel):
    output: list[Any]
    dead_letters: list[PreviewDeadLetter]
    duration_ms: float


def run_preview(
    settings: Settings, pipeline_id: str, source_format: SourceFormat, steps: list[Any], request: PreviewRequest
) -> dict[str, Any]:
    """Blocking: build the steps, feed the samples, collect output and dead letters."""
    started = time.perf_counter()
    context = StepContext(pipeline_id=pipeline_id, settings=settings)
    processor = Processor(source_format, steps, context)
    try:
        dead: list[DeadLetter] = []
        now = int(time.time() * 1000)
        if request.raw:
            messages = [_Sample(index, _raw_bytes(item), now) for index, item in enumerate(request.messages)]
            records = processor.decode(messages, dead)
        else:
            records = [
                Record(value, topic="preview", offset=index, timestamp=now)
                for index, value in enumerate(request.messages)
            ]
        output = processor.run(records, dead)
        if request.drain:
            output.extend(processor.drain(dead))
        return {
            "output": [_shown(record.value) for record in output],
            "dead_letters": [
                {
                    "index": letter.record.offset,
                    "stage": letter.stage,
                    "error": {"type": letter.error_type, "message": letter.message},
                }
                for letter in dead
            ],
            "duration_ms": round((time.perf_counter() - started) * 1000, 3),
        }
    finally:
        processor.close()
        context.close()


class _Sample:
    """Looks like a kafka-python ConsumerRecord to :meth:`Processor.decode`."""

    __slots__ = ("headers", "key", "offset", "partition", "timestamp", "topic", "value")

    def __init__(self, index: int, value: bytes, timestamp: int) -> None:
        self.topic, self.partition, self.offset = "preview", 0, index
        self.key, self.value, self.timestamp, self.headers = None, value, timestamp, []


def _raw_bytes(item: str) -> bytes:
    return item.encode()


def _shown(value: Any) -> Any:
    if isinstance(value, bytes | bytearray):
        return {"base64": base64.b64encode(bytes(value)).decode()}
    return value
