"""The shapes of stream pipelines: what clients send, what is stored, what the API answers.

A :class:`PipelineSpec` is validated whole when saved: every step's and the
sink's config against its registered model (an unknown ``type`` names the
known ones), every expression compiled, every JSON Schema checked, every
python step compiled under the sandbox policy. An invalid one is a 422 whose
details name the field (``steps.0.filter.expr``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stream_pipeline.constants import DEAD_LETTER_TOPIC_TEMPLATE, DEFAULT_MAX_BATCH, DEFAULT_MAX_WAIT_MS
from stream_pipeline.sinks import SinkDefinition
from stream_pipeline.sinks.kafka import TOPIC_PATTERN
from stream_pipeline.steps import StepDefinition

ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,99}$"
GROUP_PATTERN = r"^[A-Za-z0-9._-]{1,200}$"


def slugify(name: str) -> str:
    """The default pipeline id of a name: lower case, runs of other characters as ``-``."""
    slug = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    return slug[:100] or "pipeline"


class PipelineState(StrEnum):
    running = "running"
    stopped = "stopped"


class SourceFormat(StrEnum):
    json = "json"
    text = "text"
    bytes = "bytes"


class Source(BaseModel):
    """Where messages come from and how they are decoded."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    topics: list[str] = Field(min_length=1, max_length=100, description="topics to consume")
    group: str | None = Field(None, pattern=GROUP_PATTERN, description="consumer group; default: the pipeline id")
    start: Literal["earliest", "latest"] = Field("earliest", description="where a new group starts reading")
    format: SourceFormat = Field(SourceFormat.json, description="json, text (UTF-8) or bytes (left as they are)")

    @model_validator(mode="after")
    def _topic_names(self) -> Source:
        bad = [topic for topic in self.topics if not re.match(TOPIC_PATTERN, topic)]
        if bad:
            raise ValueError(f"topic names may use letters, digits, '.', '_' and '-' only: {bad}")
        if len(set(self.topics)) != len(self.topics):
            raise ValueError("a topic is listed twice")
        return self


class BatchOptions(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    max_records: int = Field(DEFAULT_MAX_BATCH, ge=1, le=50_000, description="records polled and written together")
    max_wait_ms: int = Field(DEFAULT_MAX_WAIT_MS, ge=0, le=60_000, description="longest wait for a batch to fill")


class PipelineSpec(BaseModel):
    """A pipeline as clients write it (POST and PUT bodies)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str | None = Field(None, pattern=ID_PATTERN, description="default: a slug of the name")
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    source: Source
    steps: list[StepDefinition] = Field(default_factory=list, max_length=100)  # type: ignore[valid-type]
    sink: SinkDefinition  # type: ignore[valid-type]
    dead_letter_topic: str | None = Field(None, pattern=TOPIC_PATTERN, description="default: dataflow.stream.<id>.dlq")
    batch: BatchOptions = Field(default_factory=BatchOptions)

    def resolved_id(self) -> str:
        return self.id or slugify(self.name)

    @model_validator(mode="after")
    def _no_loops(self) -> PipelineSpec:
        sink_topic = getattr(self.sink, "topic", None)
        if sink_topic is not None and sink_topic in self.source.topics:
            raise ValueError(f"the sink topic {sink_topic!r} is also a source topic: that would loop forever")
        if self.dead_letter_topic is not None and self.dead_letter_topic in self.source.topics:
            raise ValueError("the dead-letter topic must not be a source topic")
        return self


class Pipeline(BaseModel):
    """A stored pipeline: its definition, its desired state and its version."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    description: str = ""
    source: Source
    steps: list[StepDefinition]  # type: ignore[valid-type]
    sink: SinkDefinition  # type: ignore[valid-type]
    dead_letter_topic: str
    batch: BatchOptions
    state: PipelineState
    version: int = Field(description="increases with every change of the definition")
    group: str = Field(description="the consumer group in use")
    created_at: datetime
    updated_at: datetime

    @property
    def spec(self) -> PipelineSpec:
        return PipelineSpec(
            id=self.id,
            name=self.name,
            description=self.description,
            source=self.source,
            steps=self.steps,
            sink=self.sink,
            dead_letter_topic=self.dead_letter_topic,
            batch=self.batch,
        )


class PipelinePage(BaseModel):
    items: list[Pipeline]
    next_cursor: str | None = None


def stored_fields(spec: PipelineSpec, pipeline_id: str) -> dict[str, Any]:
    """The document fields of a definition (everything but state, version and times).

    The definition is stored as JSON text: a JSON Schema's ``$schema`` or
    ``$ref`` keys, or dotted field names in ``map.set``, are not valid
    MongoDB field names. What the service and workers query (name, group)
    is kept beside it.
    """
    data = spec.model_dump(mode="json", by_alias=True, exclude={"id"})
    data["dead_letter_topic"] = spec.dead_letter_topic or DEAD_LETTER_TOPIC_TEMPLATE.format(pipeline_id=pipeline_id)
    group = spec.source.group or pipeline_id
    return {"name": spec.name, "group": group, "definition": json.dumps(data, separators=(",", ":"))}


def pipeline_from_document(document: dict[str, Any]) -> Pipeline:
    definition = json.loads(document["definition"])
    return Pipeline.model_validate(
        {
            **definition,
            "id": document["_id"],
            "state": document["state"],
            "version": document["version"],
            "group": document["group"],
            "created_at": document["created_at"],
            "updated_at": document["updated_at"],
        }
    )
