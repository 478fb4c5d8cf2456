"""branch, noop, subflow and the condition language; the registry as the designer sees it."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from flow_automation.node_types import NodeCanceled, NodeContext, NodeError, registry
from flow_automation.node_types._conditions import Operator, evaluate


def context(type_id: str, config: dict[str, Any], **extra: Any) -> NodeContext[Any]:
    model = registry()[type_id].config_model
    return NodeContext(run_id="run-1", node_id="node", config=model.model_validate(config), **extra)


def test_every_node_type_of_the_first_set_is_registered_and_describes_itself() -> None:
    expected = {
        "python",
        "sql.query",
        "sql.write",
        "mongo.find",
        "mongo.write",
        "http.request",
        "kafka.produce",
        "kafka.consume",
        "document.extract",
        "document.ocr",
        "document.report",
        "branch",
        "subflow",
        "noop",
        *(
            f"transform.{name}"
            for name in ("filter", "select", "rename", "cast", "join", "aggregate", "sort", "dedupe", "fill")
        ),
    }
    assert expected <= set(registry())
    for node_type in registry().values():
        described = json.loads(json.dumps(node_type.describe()))
        assert described["config_schema"]["type"] == "object", node_type.id
        assert node_type.run.__module__.startswith("flow_automation.node_types."), node_type.id


@pytest.mark.parametrize(
    ("subject", "operator", "value", "expected"),
    [
        (5, Operator.GT, 3, True),
        (None, Operator.GT, 3, False),
        (None, Operator.EQ, None, True),
        (None, Operator.IS_FALSE, None, True),
        ("", Operator.IS_TRUE, None, False),
        ("open", Operator.IN, ["open", "new"], True),
        ("closed", Operator.NOT_IN, ["open", "new"], True),
        (["a", "b"], Operator.CONTAINS, "b", True),
        ("report-2024.pdf", Operator.MATCHES, r"\d{4}", True),
        ("report.pdf", Operator.ENDS_WITH, ".pdf", True),
    ],
)
def test_evaluate(subject: Any, operator: Operator, value: Any, expected: bool) -> None:
    assert evaluate(subject, operator, value) is expected


def test_evaluate_names_values_that_do_not_compare() -> None:
    with pytest.raises(NodeError, match="cannot compare 'a' with 3"):
        evaluate("a", Operator.LT, 3)


def test_branch_takes_one_side_only() -> None:
    outputs = registry()["branch"].run(
        context("branch", {"path": "summary.count", "operator": "ge", "value": 10}),
        {"value": {"summary": {"count": 12}}},
    )
    assert outputs == {"true": {"summary": {"count": 12}}}


def test_branch_tests_a_table_by_its_rows_and_follows_list_indexes() -> None:
    empty = registry()["branch"].run(context("branch", {}), {"value": pd.DataFrame({"a": []})})
    assert set(empty) == {"false"}
    items = {"items": [{"status": "ok"}, {"status": "failed"}]}
    last = registry()["branch"].run(
        context("branch", {"path": "items.-1.status", "operator": "eq", "value": "failed"}), {"value": items}
    )
    assert set(last) == {"true"}
    missing = registry()["branch"].run(
        context("branch", {"path": "items.9.status", "operator": "is_null"}), {"value": items}
    )
    assert set(missing) == {"true"}


def test_branch_refuses_a_path_into_a_table() -> None:
    with pytest.raises(NodeError, match="cannot be followed into a table"):
        registry()["branch"].run(context("branch", {"path": "a"}), {"value": pd.DataFrame({"a": [1]})})


def test_branch_config_refuses_a_value_for_a_unary_operator() -> None:
    with pytest.raises(ValidationError, match="takes no value"):
        registry()["branch"].config_model.model_validate({"operator": "is_true", "value": 1})


def test_noop_passes_inputs_through() -> None:
    frame = pd.DataFrame({"a": [1]})
    outputs = registry()["noop"].run(context("noop", {}), {"left": frame, "right": [1, 2]})
    assert outputs["left"] is frame and outputs["right"] == [1, 2]


class RecordingServices:
    """Stands in for the executor in a unit test: records the child run it is asked for."""

    settings: Any = None

    def __init__(self, outputs: dict[str, Any]) -> None:
        self.outputs = outputs
        self.calls: list[tuple[str, dict[str, Any], int | None, float | None]] = []

    def run_subflow(
        self, flow_id: str, *, params: Mapping[str, Any], version: int | None, timeout_s: float | None
    ) -> dict[str, Any]:
        self.calls.append((flow_id, dict(params), version, timeout_s))
        return self.outputs


def test_subflow_passes_inputs_over_params_and_picks_an_output() -> None:
    services = RecordingServices({"load.result": {"rows": 3}, "clean.table": "t"})
    config = {
        "flow": "nightly-load",
        "version": 4,
        "params": {"region": "eu", "day": "2024-01-01"},
        "output": "load.result",
    }
    outputs = registry()["subflow"].run(context("subflow", config, services=services, timeout_s=60.0), {"region": "kr"})
    assert outputs == {"result": {"rows": 3}, "outputs": services.outputs}
    assert services.calls == [("nightly-load", {"region": "kr", "day": "2024-01-01"}, 4, 60.0)]


def test_subflow_names_a_missing_output_and_respects_a_cancel() -> None:
    services = RecordingServices({"load.result": 1})
    with pytest.raises(NodeError, match=r"has no output 'load\.table'"):
        registry()["subflow"].run(context("subflow", {"flow": "f", "output": "load.table"}, services=services), {})
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(NodeCanceled):
        registry()["subflow"].run(context("subflow", {"flow": "f"}, services=services, cancelled=cancelled), {})
    assert len(services.calls) == 1


def test_nodes_needing_services_say_so_without_them() -> None:
    with pytest.raises(NodeError, match="needs the executor's services"):
        registry()["subflow"].run(context("subflow", {"flow": "f"}), {})
