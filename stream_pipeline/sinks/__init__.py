"""The sink registry: one module per destination, each a config model and a :class:`Sink` class."""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field

from stream_pipeline.sinks.base import Sink, SinkConfig, TransientSinkError
from stream_pipeline.sinks.http import HttpSink
from stream_pipeline.sinks.kafka import KafkaSink
from stream_pipeline.sinks.mongo import MongoSink
from stream_pipeline.sinks.sql import SqlSink
from stream_pipeline.steps.base import StepContext

SINK_CLASSES: tuple[type[Sink], ...] = (KafkaSink, MongoSink, SqlSink, HttpSink)
SINK_TYPES: dict[str, type[Sink]] = {cls.type: cls for cls in SINK_CLASSES}

#: A sink definition: one of the registered config models, chosen by its ``type``.
SinkDefinition = Annotated[
    Union[tuple(cls.config_model for cls in SINK_CLASSES)],  # noqa: UP007 - built from the registry
    Field(discriminator="type"),
]


def build_sink(config: Any, context: StepContext) -> Sink:
    return SINK_TYPES[config.type](config, context)


__all__ = ["SINK_TYPES", "Sink", "SinkConfig", "SinkDefinition", "TransientSinkError", "build_sink"]
