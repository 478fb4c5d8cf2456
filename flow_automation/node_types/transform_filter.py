"""``transform.filter``: keep the rows that satisfy conditions on their columns.

Conditions are data (see :mod:`._conditions`), combined with ``all`` (and) or
``any`` (or). A condition may compare a column with a constant ``value`` or,
with ``value_column``, with another column of the same row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeType
from flow_automation.node_types._conditions import (
    OPERATOR_HELP,
    ConditionValue,
    Operator,
    check_operands,
    column_mask,
)
from flow_automation.node_types._tables import TABLE_IN, TABLE_OUT, require_columns, table_input


class ColumnCondition(NodeConfig):
    column: str = Field(min_length=1, title="Column", description="the column to test")
    operator: Operator = Field(Operator.EQ, title="Operator", description=OPERATOR_HELP)
    value: ConditionValue = Field(None, title="Value", description="what to compare with (a list for in / not_in)")
    value_column: str | None = Field(
        None, min_length=1, title="Compare with column", description="compare with this column instead of a value"
    )

    @model_validator(mode="after")
    def _operands_suit_operator(self) -> ColumnCondition:
        check_operands(self.operator, self.value, self.value_column)
        return self


class FilterConfig(NodeConfig):
    conditions: list[ColumnCondition] = Field(
        min_length=1, title="Conditions", description="the tests each kept row passes"
    )
    match: Literal["all", "any"] = Field(
        "all", title="Match", description="all: every condition holds (and); any: at least one holds (or)"
    )


def run(context: NodeContext[FilterConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    table = table_input(inputs)
    config = context.config
    require_columns(
        table, [c.column for c in config.conditions] + [c.value_column for c in config.conditions if c.value_column]
    )
    masks = [
        column_mask(
            table[condition.column],
            condition.operator,
            condition.value,
            table[condition.value_column] if condition.value_column else None,
        )
        for condition in config.conditions
    ]
    keep = masks[0]
    for mask in masks[1:]:
        keep = (keep & mask) if config.match == "all" else (keep | mask)
    return {"table": table.loc[keep.to_numpy()].reset_index(drop=True)}


NODE_TYPE = NodeType(
    id="transform.filter",
    title="Filter rows",
    category="Transform",
    description="Keep the rows that satisfy conditions on their columns.",
    inputs=(TABLE_IN,),
    outputs=(TABLE_OUT,),
    config_model=FilterConfig,
    run=run,
)
