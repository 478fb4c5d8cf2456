"""The step registry: one module per step type, each a config model and a :class:`Step` class.

Adding a step type is adding a module here and its class to :data:`STEP_CLASSES`;
the pipeline model, validation, the OpenAPI document and the worker all read
the registry.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Field

from stream_pipeline.steps.base import Step, StepConfig, StepContext
from stream_pipeline.steps.dedupe import DedupeStep
from stream_pipeline.steps.enrich import EnrichStep
from stream_pipeline.steps.filter import FilterStep
from stream_pipeline.steps.map import MapStep
from stream_pipeline.steps.project import ProjectStep
from stream_pipeline.steps.python import PythonStep
from stream_pipeline.steps.rename import RenameStep
from stream_pipeline.steps.validate import ValidateStep
from stream_pipeline.steps.windows import SlidingWindowStep, TumblingWindowStep

STEP_CLASSES: tuple[type[Step], ...] = (
    FilterStep,
    MapStep,
    ProjectStep,
    RenameStep,
    ValidateStep,
    DedupeStep,
    TumblingWindowStep,
    SlidingWindowStep,
    EnrichStep,
    PythonStep,
)

STEP_TYPES: dict[str, type[Step]] = {cls.type: cls for cls in STEP_CLASSES}

#: A step definition: one of the registered config models, chosen by its ``type``.
StepDefinition = Annotated[
    Union[tuple(cls.config_model for cls in STEP_CLASSES)],  # noqa: UP007 - built from the registry
    Field(discriminator="type"),
]


def build_step(config: Any, context: StepContext, index: int) -> Step:
    return STEP_TYPES[config.type](config, context, index)


__all__ = ["STEP_TYPES", "Step", "StepConfig", "StepContext", "StepDefinition", "build_step"]
