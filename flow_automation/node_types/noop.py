"""``noop``: passes its inputs through unchanged.

It joins and groups branches (like Airflow's EmptyOperator): connect any
number of inputs under any names, and each comes out as an output of the
same name; with only ``edges`` into it, it is a pure synchronisation point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flow_automation.node_types._base import EmptyConfig, NodeContext, NodeType, PortKind


def run(context: NodeContext[EmptyConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    return dict(inputs)


NODE_TYPE = NodeType(
    id="noop",
    title="No-op",
    category="Control",
    description="Passes its inputs through unchanged; joins or groups branches.",
    config_model=EmptyConfig,
    run=run,
    extra_inputs=PortKind.ANY,
    outputs_mirror_inputs=True,
    instant=True,
)
