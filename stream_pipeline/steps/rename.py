"""``rename``: move fields to new names (dotted paths on either side)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from stream_pipeline.records import Record, get_path, has_path, pop_path, set_path, split_path
from stream_pipeline.steps.base import RecordStep, StepConfig, require_object


class RenameConfig(StepConfig):
    type: Literal["rename"]
    fields: dict[str, str] = Field(min_length=1, description="old field path -> new field path")


class RenameStep(RecordStep):
    type = "rename"
    config_model = RenameConfig

    def __init__(self, config: RenameConfig, *args: object) -> None:
        super().__init__(config, *args)  # type: ignore[arg-type]
        self.moves = [(split_path(old), split_path(new)) for old, new in config.fields.items()]

    def apply(self, record: Record) -> Record:
        value = require_object(record, "rename")
        moved = []
        for old, new in self.moves:
            if has_path(value, old):
                moved.append((new, get_path(value, old)))
                pop_path(value, old)
        for new, item in moved:
            set_path(value, new, item)
        return record
