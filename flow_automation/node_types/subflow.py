"""``subflow``: run another saved flow as a child run and wait for its outputs.

The child's params are the configured ``params`` with the node's inputs
over them (an input named ``region`` sets the child's param ``region``), so
a parent passes values down without code. The child runs a pinned
``version`` or, when none is given, the latest. ``outputs`` carries every
final output of the child by ``"<node>.<output>"``; ``result`` the one named
by ``output`` (or all of them when none is named). The executor runs the
child (see ``NodeServices.run_subflow``); a failed child fails this node.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field

from flow_automation.node_types._base import NodeCanceled, NodeConfig, NodeContext, NodeError, NodeType, Port, PortKind

FLOW_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"


class SubflowConfig(NodeConfig):
    flow: str = Field(
        pattern=FLOW_ID_PATTERN,
        title="Flow",
        description="id of the flow to run",
        json_schema_extra={"x-dataflow-ref": "flows"},
    )
    version: int | None = Field(None, ge=1, title="Version", description="a saved version; empty: the latest")
    params: dict[str, Any] = Field(
        default_factory=dict, title="Params", description="the child's params; inputs of the same name win"
    )
    output: str | None = Field(
        None,
        pattern=r"^[^.\s]+\.[^.\s]+$",
        title="Output",
        description="the child's '<node>.<output>' that becomes 'result'; empty: all outputs",
    )


def run(context: NodeContext[SubflowConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    config = context.config
    if context.cancelled.is_set():
        raise NodeCanceled(f"node {context.node_id} was canceled before starting flow {config.flow!r}")
    params = {**config.params, **inputs}
    outputs = context.require_services().run_subflow(
        config.flow, params=params, version=config.version, timeout_s=context.timeout_s
    )
    if config.output is None:
        return {"outputs": outputs, "result": outputs}
    if config.output not in outputs:
        raise NodeError(
            f"field 'output': flow {config.flow!r} has no output {config.output!r}; its outputs are {sorted(outputs)}"
        )
    return {"outputs": outputs, "result": outputs[config.output]}


NODE_TYPE = NodeType(
    id="subflow",
    title="Subflow",
    category="Control",
    description="Run another flow as a child run, passing inputs as its params, and continue with its outputs.",
    outputs=(
        Port(name="result", kind=PortKind.ANY, description="the chosen output of the child (or all of them)"),
        Port(name="outputs", kind=PortKind.JSON, description="every final output of the child by '<node>.<output>'"),
    ),
    config_model=SubflowConfig,
    run=run,
    extra_inputs=PortKind.ANY,
)
