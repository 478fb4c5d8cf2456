"""Pure logic of the orchestrator: graphs, decisions, params, schedules, diffs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from flow_automation.engine.states import decide
from flow_automation.flows.diff import diff_definitions
from flow_automation.flows.graph import FlowGraph
from flow_automation.flows.model import FlowDefinition, ParamSpec, coerce_param, resolve_params, slugify
from flow_automation.flows.schedule import cron_trigger, slots


def flow(nodes: list[str], edges: list[tuple[str, str]]) -> FlowDefinition:
    return FlowDefinition.model_validate(
        {
            "name": "f",
            "nodes": [{"id": node, "type": "noop"} for node in nodes],
            "edges": [{"from": a, "to": b} for a, b in edges],
        }
    )


def test_graph_roots_sinks_and_no_cycle() -> None:
    graph = FlowGraph.of(flow(["a", "b", "c", "d"], [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d")]))
    assert graph.roots() == ["a"] and graph.sinks() == ["d"]
    assert graph.find_cycle() is None
    assert graph.descendants(["b"]) == {"d"}


def test_cycle_members_in_path_order() -> None:
    cycle = FlowGraph.of(flow(["a", "b", "c", "x"], [("x", "a"), ("a", "b"), ("b", "c"), ("c", "a")])).find_cycle()
    assert cycle is not None and sorted(cycle) == ["a", "b", "c"]
    assert cycle[(cycle.index("a") + 1) % 3] == "b"


def test_data_inputs_are_dependencies() -> None:
    definition = FlowDefinition.model_validate(
        {
            "name": "f",
            "nodes": [
                {"id": "a", "type": "noop"},
                {"id": "b", "type": "noop", "inputs": {"v": "a.x"}},
                {"id": "c", "type": "noop", "inputs": {"p": "params.day"}},
            ],
        }
    )
    graph = FlowGraph.of(definition)
    assert graph.upstream["b"] == ["a"] and graph.upstream["c"] == []


@pytest.mark.parametrize(
    ("upstream", "consumes", "lenient", "expected"),
    [
        ({"a": ("succeeded", ["table"])}, {"a": ["table"]}, False, "ready"),
        ({"a": ("failed", [])}, {"a": []}, False, "upstream_failed"),
        ({"a": ("upstream_failed", [])}, {"a": []}, True, "upstream_failed"),
        ({"a": ("canceled", [])}, {"a": []}, False, "canceled"),
        ({"a": ("skipped", [])}, {"a": []}, False, "skipped"),
        ({"b": ("succeeded", ["true"])}, {"b": ["false"]}, False, "skipped"),
        ({"t": ("succeeded", ["v"]), "f": ("skipped", [])}, {"t": ["v"], "f": ["v"]}, True, "ready"),
        ({"t": ("succeeded", ["v"]), "f": ("skipped", [])}, {"t": ["v"], "f": ["v"]}, False, "skipped"),
        ({"t": ("skipped", []), "f": ("skipped", [])}, {}, True, "skipped"),
        ({"t": ("succeeded", []), "f": ("failed", [])}, {}, True, "upstream_failed"),
    ],
)
def test_decide(upstream, consumes, lenient, expected) -> None:
    assert decide(upstream, consumes, lenient=lenient) == expected


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("integer", "42", 42),
        ("integer", 3.0, 3),
        ("number", "2.5", 2.5),
        ("boolean", "true", True),
        ("date", "2026-01-02", "2026-01-02"),
        ("datetime", "2026-01-02T03:04:05Z", "2026-01-02T03:04:05+00:00"),
        ("array", [1], [1]),
    ],
)
def test_coerce_param(kind, value, expected) -> None:
    assert coerce_param(ParamSpec(type=kind), value) == expected


@pytest.mark.parametrize(("kind", "value"), [("integer", "x"), ("integer", True), ("string", 1), ("object", [])])
def test_coerce_param_refuses(kind, value) -> None:
    with pytest.raises(ValueError):
        coerce_param(ParamSpec(type=kind), value)


def test_resolve_params_fills_defaults_and_names_problems() -> None:
    specs = {"day": ParamSpec(type="date", required=True), "n": ParamSpec(type="integer", default=3)}
    resolved, problems = resolve_params(specs, {"extra": 1})
    assert resolved == {"n": 3}
    assert {p["field"] for p in problems} == {"params.extra", "params.day"}


def test_resolved_defaults_are_the_runs_own_values() -> None:
    # A run's params are its own values: changing one must not change the flow's default.
    specs = {"tags": ParamSpec(type="array", default=["a"])}
    first, _ = resolve_params(specs, {})
    first["tags"].append("changed")
    second, _ = resolve_params(specs, {})
    assert second == {"tags": ["a"]} and specs["tags"].default == ["a"]


def test_slugify() -> None:
    assert slugify("Daily Sales (EU)") == "daily-sales-eu"
    assert slugify("Café — Zürich") == "cafe-zurich"
    assert slugify("!!!") == "flow"


def test_cron_slots_with_standard_weekday_numbers() -> None:
    trigger = cron_trigger("0 9 * * 1-5", "UTC")  # Monday to Friday in cron's numbering
    start = datetime(2026, 11, 21, tzinfo=UTC)  # a Saturday
    fired = list(slots(trigger, start, datetime(2026, 11, 28, tzinfo=UTC), limit=10))
    assert [moment.strftime("%a") for moment in fired] == ["Mon", "Tue", "Wed", "Thu", "Fri"]
    assert len(list(slots(cron_trigger("@hourly"), start, start.replace(hour=3), limit=10))) == 4
    seconds = list(slots(cron_trigger("*/20 * * * * *"), start, start.replace(second=59), limit=10))
    assert [moment.second for moment in seconds] == [0, 20, 40]


@pytest.mark.parametrize(("expression", "zone"), [("61 * * * *", "UTC"), ("* * *", "UTC"), ("0 0 * * *", "Mars/Base")])
def test_cron_errors(expression, zone) -> None:
    with pytest.raises(ValueError):
        cron_trigger(expression, zone)


def test_diff_by_node_and_field() -> None:
    old = {"name": "a", "nodes": [{"id": "x", "config": {"q": 1}}], "edges": [], "params": {}}
    new = {
        "name": "b",
        "nodes": [{"id": "x", "config": {"q": 2}}, {"id": "y"}],
        "edges": [{"from": "x", "to": "y"}],
        "params": {"p": {"type": "string"}},
    }
    changes = diff_definitions(old, new)
    assert changes["nodes"] == {
        "added": ["y"],
        "removed": [],
        "changed": [{"id": "x", "changes": [{"field": "config.q", "before": 1, "after": 2}]}],
    }
    assert changes["edges"]["added"] == [{"from": "x", "to": "y"}]
    assert changes["params"] == [{"field": "p", "before": None, "after": {"type": "string"}}]
    assert changes["fields"] == [{"field": "name", "before": "a", "after": "b"}]
