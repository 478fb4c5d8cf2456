"""``transform.fill``: replace nulls with a constant, or with the previous or next value.

Constants are per column (``values``); ``forward`` carries the last non-null
value down (a sensor reading that holds until the next one), ``backward``
takes the next one up.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from pydantic import Field, model_validator

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeError, NodeType
from flow_automation.node_types._tables import TABLE_IN, TABLE_OUT, ColumnName, require_columns, table_input

FillValue = str | int | float | bool


class FillConfig(NodeConfig):
    values: dict[ColumnName, FillValue] = Field(
        default_factory=dict, title="Constants", description="each column and the value its nulls become"
    )
    forward: list[ColumnName] = Field(
        default_factory=list, title="Fill forward", description="columns whose nulls take the previous row's value"
    )
    backward: list[ColumnName] = Field(
        default_factory=list, title="Fill backward", description="columns whose nulls take the next row's value"
    )

    @model_validator(mode="after")
    def _each_column_filled_one_way(self) -> FillConfig:
        named = [*self.values, *self.forward, *self.backward]
        if not named:
            raise ValueError("name at least one column in values, forward or backward")
        twice = sorted({column for column in named if named.count(column) > 1})
        if twice:
            raise ValueError(f"column(s) {twice} are filled more than one way; pick one")
        return self


def run(context: NodeContext[FillConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    table = table_input(inputs)
    config = context.config
    require_columns(table, [*config.values, *config.forward, *config.backward])
    filled: dict[str, Any] = {}
    for column, value in config.values.items():
        try:
            with warnings.catch_warnings():
                # pandas warns (and will raise) where a value does not fit the column's type.
                warnings.simplefilter("error")
                filled[column] = table[column].fillna(value)
        except (TypeError, ValueError, Warning) as exc:
            raise NodeError(
                f"column {column!r} ({table[column].dtype}) cannot hold {value!r}; "
                f"cast it first (transform.cast) or fill with a value of its type ({exc})"
            ) from None
    filled.update({column: table[column].ffill() for column in config.forward})
    filled.update({column: table[column].bfill() for column in config.backward})
    return {"table": table.assign(**filled)}


NODE_TYPE = NodeType(
    id="transform.fill",
    title="Fill nulls",
    category="Transform",
    description="Replace nulls with a constant per column, or with the previous or next row's value.",
    inputs=(TABLE_IN,),
    outputs=(TABLE_OUT,),
    config_model=FillConfig,
    run=run,
)
