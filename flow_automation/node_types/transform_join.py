"""``transform.join``: join two tables on key columns, like SQL's JOIN.

Keys are either the same names in both tables (``on``) or pairs of names
(``left_on`` / ``right_on``); a ``cross`` join takes none. Columns other than
the keys that exist in both tables get ``suffixes``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeError, NodeType, Port, PortKind
from flow_automation.node_types._tables import TABLE_OUT, ColumnName, require_columns, table_input


class JoinConfig(NodeConfig):
    how: Literal["inner", "left", "right", "outer", "cross"] = Field(
        "inner", title="Join type", description="which rows to keep when a key has no match on the other side"
    )
    on: list[ColumnName] = Field(
        default_factory=list, title="Key columns", description="key columns with the same name in both tables"
    )
    left_on: list[ColumnName] = Field(default_factory=list, title="Left key columns")
    right_on: list[ColumnName] = Field(default_factory=list, title="Right key columns")
    suffixes: tuple[str, str] = Field(
        ("_left", "_right"), title="Suffixes", description="added to other columns that exist in both tables"
    )

    @model_validator(mode="after")
    def _keys_are_given_once(self) -> JoinConfig:
        if self.how == "cross":
            if self.on or self.left_on or self.right_on:
                raise ValueError("a cross join takes no key columns")
            return self
        if self.on and (self.left_on or self.right_on):
            raise ValueError("give either on, or left_on with right_on, not both")
        if not self.on and not (self.left_on and self.right_on):
            raise ValueError("give the key columns: on, or left_on with right_on")
        if len(self.left_on) != len(self.right_on):
            raise ValueError(f"left_on has {len(self.left_on)} columns but right_on has {len(self.right_on)}")
        if self.suffixes[0] == self.suffixes[1]:
            raise ValueError("the two suffixes must differ")
        return self


def run(context: NodeContext[JoinConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    left, right = table_input(inputs, "left"), table_input(inputs, "right")
    config = context.config
    require_columns(left, config.on or config.left_on, input_name="left")
    require_columns(right, config.on or config.right_on, input_name="right")
    keys: dict[str, Any] = (
        {"on": config.on or None}
        if config.on or config.how == "cross"
        else {"left_on": config.left_on, "right_on": config.right_on}
    )
    try:
        joined = left.merge(right, how=config.how, suffixes=config.suffixes, **keys)
    except (ValueError, TypeError) as exc:
        raise NodeError(f"the tables cannot be joined: {exc}") from exc
    return {"table": joined}


NODE_TYPE = NodeType(
    id="transform.join",
    title="Join tables",
    category="Transform",
    description="Join two tables on key columns (inner, left, right, outer or cross).",
    inputs=(
        Port(name="left", kind=PortKind.TABLE, description="the left table"),
        Port(name="right", kind=PortKind.TABLE, description="the right table"),
    ),
    outputs=(TABLE_OUT,),
    config_model=JoinConfig,
    run=run,
)
