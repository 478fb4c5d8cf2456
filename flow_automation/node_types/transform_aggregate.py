"""``transform.aggregate``: group rows and compute sums, counts, means and the like.

Without ``group_by`` the whole table is one group and the result is one row.
Null keys form their own group rather than vanishing (pandas drops them by
default, which silently loses rows from totals).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

import pandas as pd
from pydantic import Field, field_validator, model_validator

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeError, NodeType
from flow_automation.node_types._tables import (
    TABLE_IN,
    TABLE_OUT,
    ColumnName,
    reject_duplicates,
    require_columns,
    table_input,
)


class AggregateFunction(StrEnum):
    ROWS = "rows"  # rows in the group; takes no column
    COUNT = "count"  # non-null values
    COUNT_DISTINCT = "count_distinct"
    SUM = "sum"
    MEAN = "mean"
    MEDIAN = "median"
    MIN = "min"
    MAX = "max"
    FIRST = "first"
    LAST = "last"
    STD = "std"
    VAR = "var"


_PANDAS_FUNCTIONS = {AggregateFunction.COUNT_DISTINCT: "nunique"}


class Aggregation(NodeConfig):
    function: AggregateFunction = Field(title="Function", description="rows counts the group's rows (no column)")
    column: ColumnName | None = Field(None, title="Column", description="the column to aggregate")
    name: ColumnName | None = Field(
        None, title="Result column", description="name of the result column; default '<column>_<function>'"
    )

    @model_validator(mode="after")
    def _column_suits_function(self) -> Aggregation:
        if self.function is AggregateFunction.ROWS and self.column is not None:
            raise ValueError("function 'rows' counts rows and takes no column")
        if self.function is not AggregateFunction.ROWS and self.column is None:
            raise ValueError(f"function {self.function.value!r} needs a column")
        return self

    @property
    def result_name(self) -> str:
        return self.name or (self.function.value if self.column is None else f"{self.column}_{self.function.value}")


class AggregateConfig(NodeConfig):
    group_by: list[ColumnName] = Field(
        default_factory=list, title="Group by", description="key columns; empty: the whole table is one group"
    )
    aggregations: list[Aggregation] = Field(min_length=1, title="Aggregations", description="what to compute")

    @field_validator("group_by")
    @classmethod
    def _keys_are_distinct(cls, group_by: list[str]) -> list[str]:
        return reject_duplicates(group_by)

    @model_validator(mode="after")
    def _result_names_are_distinct(self) -> AggregateConfig:
        reject_duplicates([*self.group_by, *(a.result_name for a in self.aggregations)], "result column")
        return self


def run(context: NodeContext[AggregateConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    table = table_input(inputs)
    config = context.config
    require_columns(table, [*config.group_by, *(a.column for a in config.aggregations if a.column)])
    try:
        result = _grouped(table, config) if config.group_by else _whole(table, config)
    except (TypeError, ValueError) as exc:
        raise NodeError(f"cannot aggregate: {exc}") from exc
    return {"table": result}


def _grouped(table: pd.DataFrame, config: AggregateConfig) -> pd.DataFrame:
    groups = table.groupby(config.group_by, dropna=False, sort=True)
    columns = {
        aggregation.result_name: (
            groups.size()
            if aggregation.column is None
            else groups[aggregation.column].agg(_PANDAS_FUNCTIONS.get(aggregation.function, aggregation.function.value))
        )
        for aggregation in config.aggregations
    }
    return pd.DataFrame(columns).reset_index()


def _whole(table: pd.DataFrame, config: AggregateConfig) -> pd.DataFrame:
    row = {
        aggregation.result_name: (
            len(table) if aggregation.column is None else _scalar(table[aggregation.column], aggregation.function)
        )
        for aggregation in config.aggregations
    }
    return pd.DataFrame([row])


def _scalar(series: pd.Series, function: AggregateFunction) -> Any:
    if function is AggregateFunction.FIRST:
        present = series.dropna()
        return present.iloc[0] if len(present) else None
    if function is AggregateFunction.LAST:
        present = series.dropna()
        return present.iloc[-1] if len(present) else None
    return series.agg(_PANDAS_FUNCTIONS.get(function, function.value))


NODE_TYPE = NodeType(
    id="transform.aggregate",
    title="Aggregate",
    category="Transform",
    description="Group rows by key columns and compute counts, sums, means, minima, maxima and more.",
    inputs=(TABLE_IN,),
    outputs=(TABLE_OUT,),
    config_model=AggregateConfig,
    run=run,
)
