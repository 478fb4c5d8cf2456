"""``filter``: keep the records for which an expression is true."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from stream_pipeline.expressions import check_expression, compile_expression
from stream_pipeline.records import DeadLetter, Record
from stream_pipeline.steps.base import Step, StepConfig


class FilterConfig(StepConfig):
    type: Literal["filter"]
    expr: str = Field(description="an expression (see the expression language); records where it is false are dropped")

    _check = field_validator("expr")(check_expression)


class FilterStep(Step):
    type = "filter"
    config_model = FilterConfig

    def __init__(self, config: FilterConfig, *args: object) -> None:
        super().__init__(config, *args)  # type: ignore[arg-type]
        self.predicate = compile_expression(config.expr)

    def process(self, records: list[Record], dead: list[DeadLetter]) -> list[Record]:
        predicate = self.predicate
        try:  # the fast path: no record fails
            return [record for record in records if predicate(record)]
        except Exception:  # noqa: BLE001 - redo one by one so only the failing records are dead-lettered
            pass
        survivors = []
        for record in records:
            try:
                if predicate(record):
                    survivors.append(record)
            except Exception as exc:  # noqa: BLE001
                dead.append(DeadLetter.from_exception(record, self.label, exc))
        return survivors
