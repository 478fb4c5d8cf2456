"""``transform.sort``: order rows by one or more columns.

The sort is stable, so rows that tie keep their incoming order, and nulls go
last (or first) whatever the direction.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, field_validator

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeError, NodeType
from flow_automation.node_types._tables import (
    TABLE_IN,
    TABLE_OUT,
    ColumnName,
    reject_duplicates,
    require_columns,
    table_input,
)


class SortKey(NodeConfig):
    column: ColumnName = Field(title="Column")
    descending: bool = Field(False, title="Descending", description="largest (or latest, or Z) first")


class SortConfig(NodeConfig):
    by: list[SortKey] = Field(min_length=1, title="Sort by", description="the first key decides, later ones break ties")
    nulls: Literal["first", "last"] = Field("last", title="Nulls", description="where rows with a null key go")

    @field_validator("by")
    @classmethod
    def _keys_are_distinct(cls, by: list[SortKey]) -> list[SortKey]:
        reject_duplicates([key.column for key in by])
        return by


def run(context: NodeContext[SortConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    table = table_input(inputs)
    config = context.config
    columns = [key.column for key in config.by]
    require_columns(table, columns)
    try:
        ordered = table.sort_values(
            by=columns,
            ascending=[not key.descending for key in config.by],
            na_position=config.nulls,
            kind="stable",
        )
    except TypeError as exc:
        raise NodeError(f"cannot sort: a key column mixes values that do not compare ({exc})") from exc
    return {"table": ordered.reset_index(drop=True)}


NODE_TYPE = NodeType(
    id="transform.sort",
    title="Sort rows",
    category="Transform",
    description="Order rows by one or more columns, each ascending or descending.",
    inputs=(TABLE_IN,),
    outputs=(TABLE_OUT,),
    config_model=SortConfig,
    run=run,
)
