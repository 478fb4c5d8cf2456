"""``transform.dedupe``: drop duplicate rows, comparing all columns or only some."""

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


class DedupeConfig(NodeConfig):
    columns: list[ColumnName] = Field(
        default_factory=list,
        title="Compare columns",
        description="rows are duplicates when these columns are equal; empty: all columns",
    )
    keep: Literal["first", "last", "none"] = Field(
        "first", title="Keep", description="which of a set of duplicates stays; none drops them all"
    )

    @field_validator("columns")
    @classmethod
    def _columns_are_distinct(cls, columns: list[str]) -> list[str]:
        return reject_duplicates(columns)


def run(context: NodeContext[DedupeConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    table = table_input(inputs)
    config = context.config
    require_columns(table, config.columns)
    keep: Literal["first", "last", False] = False if config.keep == "none" else config.keep
    deduplicated = table.drop_duplicates(subset=config.columns or None, keep=keep)
    return {"table": deduplicated.reset_index(drop=True)}


NODE_TYPE = NodeType(
    id="transform.dedupe",
    title="Remove duplicates",
    category="Transform",
    description="Drop rows that repeat earlier (or later) ones, on all columns or the ones named.",
    inputs=(TABLE_IN,),
    outputs=(TABLE_OUT,),
    config_model=DedupeConfig,
    run=run,
)
