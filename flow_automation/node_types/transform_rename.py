"""``transform.rename``: rename columns, ``{"old name": "new name"}``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


class RenameConfig(NodeConfig):
    columns: dict[ColumnName, ColumnName] = Field(
        min_length=1, title="Renames", description="each current column name and its new name"
    )

    @field_validator("columns")
    @classmethod
    def _new_names_are_distinct(cls, columns: dict[str, str]) -> dict[str, str]:
        reject_duplicates(list(columns.values()), "new name")
        return columns


def run(context: NodeContext[RenameConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    table = table_input(inputs)
    renames = context.config.columns
    require_columns(table, renames)
    result = table.rename(columns=renames)
    clashes = sorted({str(c) for c in result.columns if list(result.columns).count(c) > 1})
    if clashes:
        raise NodeError(f"renaming would give two columns the name(s) {clashes}; rename or drop the other first")
    return {"table": result}


NODE_TYPE = NodeType(
    id="transform.rename",
    title="Rename columns",
    category="Transform",
    description="Give columns new names; columns not named keep theirs.",
    inputs=(TABLE_IN,),
    outputs=(TABLE_OUT,),
    config_model=RenameConfig,
    run=run,
)
