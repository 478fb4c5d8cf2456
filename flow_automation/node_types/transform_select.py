"""``transform.select``: keep (or drop) the named columns, in the order given."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeType
from flow_automation.node_types._tables import (
    TABLE_IN,
    TABLE_OUT,
    ColumnName,
    reject_duplicates,
    require_columns,
    table_input,
)


class SelectConfig(NodeConfig):
    columns: list[ColumnName] = Field(min_length=1, title="Columns", description="the columns to keep or drop")
    mode: Literal["keep", "drop"] = Field(
        "keep", title="Mode", description="keep: only these columns, in this order; drop: all but these"
    )

    @field_validator("columns")
    @classmethod
    def _columns_are_distinct(cls, columns: list[str]) -> list[str]:
        return reject_duplicates(columns)


def run(context: NodeContext[SelectConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    table = table_input(inputs)
    columns = context.config.columns
    require_columns(table, columns)
    if context.config.mode == "keep":
        return {"table": table[columns]}
    return {"table": table.drop(columns=columns)}


NODE_TYPE = NodeType(
    id="transform.select",
    title="Select columns",
    category="Transform",
    description="Keep only the named columns (in the order given), or drop them.",
    inputs=(TABLE_IN,),
    outputs=(TABLE_OUT,),
    config_model=SelectConfig,
    run=run,
)
