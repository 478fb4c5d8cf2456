"""Whole-flow validation, run on every save and by ``POST /api/v1/flows/validate``.

All problems are collected, not just the first, each as
``{"node": <id or null>, "field": <dotted path>, "message": ...}``, so the
designer can mark every faulty node at once. A flow with problems is a 422
(:class:`common.errors.InvalidDefinition`) whose ``details.errors`` is that list.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from common.errors import InvalidDefinition
from flow_automation.flows.graph import FlowGraph
from flow_automation.flows.model import FlowDefinition, coerce_param, parse_reference
from flow_automation.flows.schedule import cron_trigger
from flow_automation.node_types import NodeType, PortKind, get_node_type

Problem = dict[str, Any]


def parse_flow(data: Any) -> FlowDefinition:
    """A :class:`FlowDefinition` from decoded JSON/YAML, or a 422 naming every field at fault."""
    if not isinstance(data, dict):
        raise InvalidDefinition(
            "a flow is an object with name and nodes",
            details={"errors": [{"node": None, "field": "(body)", "message": "expected an object"}]},
        )
    try:
        return FlowDefinition.model_validate(data)
    except ValidationError as exc:
        raise InvalidDefinition(
            "the flow definition is not valid", details={"errors": _shape_problems(exc, data)}
        ) from None


def _shape_problems(exc: ValidationError, data: dict[str, Any]) -> list[Problem]:
    problems = []
    nodes = data.get("nodes") if isinstance(data.get("nodes"), list) else []
    for error in exc.errors(include_url=False, include_context=False):
        location = list(error["loc"])
        node_id = None
        if len(location) >= 2 and location[0] == "nodes" and isinstance(location[1], int):
            raw = nodes[location[1]] if location[1] < len(nodes) else None
            node_id = raw.get("id") if isinstance(raw, dict) else None
            field = ".".join(str(part) for part in location[2:]) or "(node)"
        else:
            field = ".".join(str(part) for part in location) or "(body)"
        problems.append({"node": node_id, "field": field, "message": error["msg"]})
    return problems


def validate_flow(flow: FlowDefinition) -> None:
    """Raise a 422 listing every problem of ``flow``; return quietly when it can be saved."""
    problems = flow_problems(flow)
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        first = problems[0]
        where = f"node {first['node']!r}, " if first["node"] else ""
        raise InvalidDefinition(
            f"the flow has {len(problems)} {noun}; first: {where}{first['field']}: {first['message']}",
            details={"errors": problems},
        )


def flow_problems(flow: FlowDefinition) -> list[Problem]:
    problems: list[Problem] = []
    problems += _param_problems(flow)
    types = _node_type_problems(flow, problems)
    problems += _reference_problems(flow, types)
    problems += _edge_problems(flow)
    problems += _trigger_problems(flow)
    cycle = FlowGraph.of(flow).find_cycle()
    if cycle:
        loop = " -> ".join([*cycle, cycle[0]])
        problems.append(
            {"node": cycle[0], "field": "inputs", "message": f"cycle: {loop}", "cycle": cycle},
        )
    return problems


def _param_problems(flow: FlowDefinition) -> list[Problem]:
    problems = []
    for name, spec in flow.params.items():
        if spec.default is not None:
            try:
                coerce_param(spec, spec.default)
            except ValueError as exc:
                problems.append({"node": None, "field": f"params.{name}.default", "message": str(exc)})
    return problems


def _node_type_problems(flow: FlowDefinition, problems: list[Problem]) -> dict[str, NodeType]:
    """Duplicate ids, unknown types and configs; returns the types of the nodes that have one."""
    seen: set[str] = set()
    types: dict[str, NodeType] = {}
    for node in flow.nodes:
        if node.id in seen:
            problems.append({"node": node.id, "field": "id", "message": f"duplicate node id {node.id!r}"})
        seen.add(node.id)
        if node.id == "params":
            problems.append({"node": node.id, "field": "id", "message": "'params' is reserved for flow params"})
        node_type = get_node_type(node.type)
        if node_type is None:
            problems.append({"node": node.id, "field": "type", "message": f"unknown node type {node.type!r}"})
            continue
        types[node.id] = node_type
        try:
            node_type.config_model.model_validate(node.config)
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_context=False):
                location = ".".join(str(part) for part in error["loc"])
                problems.append(
                    {
                        "node": node.id,
                        "field": f"config.{location}" if location else "config",
                        "message": error["msg"],
                    }
                )
    return types


def _reference_problems(flow: FlowDefinition, types: dict[str, NodeType]) -> list[Problem]:
    problems: list[Problem] = []
    nodes = {node.id: node for node in flow.nodes}
    for node in flow.nodes:
        node_type = types.get(node.id)
        for input_name, reference in node.inputs.items():
            field = f"inputs.{input_name}"
            port = node_type.input_port(input_name) if node_type else None
            if node_type and port is None:
                known = [p.name for p in node_type.inputs]
                problems.append(
                    {
                        "node": node.id,
                        "field": field,
                        "message": f"{node.type} has no input {input_name!r}; its inputs are {known}",
                    }
                )
            parsed = parse_reference(reference)
            if parsed is None:
                problems.append(
                    {
                        "node": node.id,
                        "field": field,
                        "message": f"{reference!r} is not '<node>.<output>' or 'params.<name>'",
                    }
                )
                continue
            source, name = parsed
            if source == "params":
                if name not in flow.params:
                    problems.append({"node": node.id, "field": field, "message": f"the flow has no param {name!r}"})
                continue
            if source not in nodes:
                problems.append({"node": node.id, "field": field, "message": f"no node {source!r} in the flow"})
                continue
            source_type = types.get(source)
            if source_type is None:
                continue
            outputs = source_type.output_names(nodes[source].inputs)
            if name not in outputs:
                problems.append(
                    {
                        "node": node.id,
                        "field": field,
                        "message": f"node {source!r} has no output {name!r}; its outputs are {outputs}",
                    }
                )
                continue
            problems += _kind_problem(node.id, field, source_type, nodes[source].inputs, name, port)
        problems += _unconnected(node.id, node.inputs, node_type)
    return problems


def _unconnected(node_id: str, inputs: dict[str, str], node_type: NodeType | None) -> list[Problem]:
    if node_type is None:
        return []
    return [
        {"node": node_id, "field": f"inputs.{port.name}", "message": "required input is not connected"}
        for port in node_type.inputs
        if port.required and port.name not in inputs
    ]


def _kind_problem(
    node_id: str, field: str, source_type: NodeType, source_inputs: dict[str, str], output: str, port: Any
) -> list[Problem]:
    declared = next((p for p in source_type.outputs if p.name == output), None)
    if declared is None or port is None:
        return []
    given, wanted = declared.kind, port.kind
    if PortKind.ANY in (given, wanted) or given == wanted:
        return []
    return [
        {
            "node": node_id,
            "field": field,
            "message": f"output {output!r} is {given.value} but the input takes {wanted.value}",
        }
    ]


def _edge_problems(flow: FlowDefinition) -> list[Problem]:
    ids = {node.id for node in flow.nodes}
    problems = []
    for index, edge in enumerate(flow.edges):
        for end, value in (("from", edge.source), ("to", edge.target)):
            if value not in ids:
                problems.append({"node": None, "field": f"edges.{index}.{end}", "message": f"no node {value!r}"})
        if edge.source == edge.target:
            problems.append({"node": edge.source, "field": f"edges.{index}", "message": "an edge to itself"})
    return problems


def _trigger_problems(flow: FlowDefinition) -> list[Problem]:
    problems = []
    for index, trigger in enumerate(flow.triggers):
        if trigger.type == "cron":
            try:
                cron_trigger(trigger.cron, trigger.timezone)
            except ValueError as exc:
                problems.append({"node": None, "field": f"triggers.{index}.cron", "message": str(exc)})
        if trigger.type in ("cron", "kafka"):
            for name, value in trigger.params.items():
                if isinstance(value, str) and "{{" in value:
                    continue  # filled in when the trigger fires, e.g. {{scheduled_time}}
                spec = flow.params.get(name)
                if spec is None:
                    problems.append(
                        {"node": None, "field": f"triggers.{index}.params.{name}", "message": "no such flow param"}
                    )
                    continue
                try:
                    coerce_param(spec, value)
                except ValueError as exc:
                    problems.append({"node": None, "field": f"triggers.{index}.params.{name}", "message": str(exc)})
    return problems
