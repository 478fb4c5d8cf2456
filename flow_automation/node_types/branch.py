"""``branch``: test a condition and continue down one side only.

The input ``value`` is tested (a table by its number of rows; JSON data, after
following ``path`` into it). The value then leaves through the output named
after the outcome, ``true`` or ``false``, and the other output is absent: the
executor skips every node that depends on the absent side.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import Field, model_validator

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeError, NodeType, Port, PortKind
from flow_automation.node_types._conditions import OPERATOR_HELP, ConditionValue, Operator, check_operands, evaluate


class BranchConfig(NodeConfig):
    path: str = Field(
        "",
        title="Path",
        description="dotted path into JSON input, e.g. 'summary.count' or 'items.0.status'; empty: the value itself",
    )
    operator: Operator = Field(Operator.IS_TRUE, title="Operator", description=OPERATOR_HELP)
    value: ConditionValue = Field(None, title="Value", description="what to compare with (a list for in / not_in)")

    @model_validator(mode="after")
    def _operands_suit_operator(self) -> BranchConfig:
        check_operands(self.operator, self.value)
        return self


def run(context: NodeContext[BranchConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    if "value" not in inputs:
        raise NodeError("input 'value' is missing; connect what the condition tests")
    value = inputs["value"]
    config = context.config
    taken = evaluate(_subject(value, config.path), config.operator, config.value)
    context.log.info("branch %s takes the %s side", context.node_id, "true" if taken else "false")
    return {"true" if taken else "false": value}


def _subject(value: Any, path: str) -> Any:
    if isinstance(value, pd.DataFrame):
        if path:
            raise NodeError(f"path {path!r} cannot be followed into a table; a table is tested by its number of rows")
        return len(value)
    subject = value
    for step in path.split(".") if path else []:
        if isinstance(subject, Mapping) and step in subject:
            subject = subject[step]
        elif isinstance(subject, list) and step.lstrip("-").isdigit() and -len(subject) <= int(step) < len(subject):
            subject = subject[int(step)]
        else:
            return None  # a missing key tests like a null: is_null holds, comparisons fail
    return subject


NODE_TYPE = NodeType(
    id="branch",
    title="Branch",
    category="Control",
    description="Test a condition; the value continues on the true or the false side, and the other side is skipped.",
    inputs=(Port(name="value", kind=PortKind.ANY, description="what the condition tests"),),
    outputs=(
        Port(name="true", kind=PortKind.ANY, description="the value, when the condition holds", conditional=True),
        Port(name="false", kind=PortKind.ANY, description="the value, when it does not", conditional=True),
    ),
    config_model=BranchConfig,
    run=run,
)
