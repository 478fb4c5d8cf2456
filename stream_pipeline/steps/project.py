"""``project``: keep only the listed fields (dotted paths keep nested fields)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from stream_pipeline.records import Record, get_path, has_path, set_path, split_path
from stream_pipeline.steps.base import RecordStep, StepConfig, require_object


class ProjectConfig(StepConfig):
    type: Literal["project"]
    fields: list[str] = Field(min_length=1, description="field paths to keep; missing ones stay missing")


class ProjectStep(RecordStep):
    type = "project"
    config_model = ProjectConfig

    def __init__(self, config: ProjectConfig, *args: object) -> None:
        super().__init__(config, *args)  # type: ignore[arg-type]
        self.paths = [split_path(field) for field in config.fields]

    def apply(self, record: Record) -> Record:
        value = require_object(record, "project")
        kept: dict[str, Any] = {}
        for parts in self.paths:
            if has_path(value, parts):
                set_path(kept, parts, get_path(value, parts))
        record.value = kept
        return record
