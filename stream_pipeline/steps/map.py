"""``map``: computed fields (``set``, evaluated in order) and removed fields (``drop``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from stream_pipeline.expressions import check_expression, compile_expression
from stream_pipeline.records import Record, pop_path, set_path, split_path
from stream_pipeline.steps.base import RecordStep, StepConfig, require_object


class MapConfig(StepConfig):
    type: Literal["map"]
    set: dict[str, str] = Field(
        default_factory=dict,
        description="field path -> expression; evaluated in order, so later ones see earlier results",
    )
    drop: list[str] = Field(default_factory=list, description="field paths removed after 'set'")

    @field_validator("set")
    @classmethod
    def _check_set(cls, value: dict[str, str]) -> dict[str, str]:
        for field, expression in value.items():
            if not field or any(not part for part in field.split(".")):
                raise ValueError(f"field path {field!r} is not valid")
            try:
                check_expression(expression)
            except ValueError as exc:
                raise ValueError(f"field {field!r}: {exc}") from None
        return value


class MapStep(RecordStep):
    type = "map"
    config_model = MapConfig

    def __init__(self, config: MapConfig, *args: object) -> None:
        super().__init__(config, *args)  # type: ignore[arg-type]
        self.assignments = [(split_path(field), compile_expression(expr)) for field, expr in config.set.items()]
        self.simple = [(parts[0], function) for parts, function in self.assignments if len(parts) == 1]
        self.drops = [split_path(field) for field in config.drop]

    def apply(self, record: Record) -> Record:
        value = record.value
        if type(value) is not dict:
            require_object(record, "map")  # raises, naming the type
        if len(self.simple) == len(self.assignments):
            for field, function in self.simple:
                value[field] = function(record)
        else:
            for parts, function in self.assignments:
                set_path(value, parts, function(record))
        for parts in self.drops:
            if len(parts) == 1:
                value.pop(parts[0], None)
            else:
                pop_path(value, parts)
        return record
