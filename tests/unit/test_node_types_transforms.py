"""The transform.* node types on small pandas tables: results, nulls, and errors that name the column."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from flow_automation.node_types import NodeContext, NodeError, registry


def run(type_id: str, config: dict[str, Any], **inputs: Any) -> dict[str, Any]:
    node_type = registry()[type_id]
    context = NodeContext(run_id="run-1", node_id="node", config=node_type.config_model.model_validate(config))
    return node_type.run(context, inputs)


@pytest.fixture
def orders() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "country": ["KR", "DE", None, "KR"],
            "amount": [120.0, 80.5, 10.0, None],
            "budget": [100.0, 90.0, 5.0, 1.0],
        }
    )


# -- filter -----------------------------------------------------------------------------------------


def test_filter_keeps_rows_matching_all_conditions(orders: pd.DataFrame) -> None:
    table = run(
        "transform.filter",
        {"conditions": [{"column": "country", "value": "KR"}, {"column": "amount", "operator": "gt", "value": 100}]},
        table=orders,
    )["table"]
    assert table["id"].tolist() == [1]


def test_filter_any_matches_either_condition(orders: pd.DataFrame) -> None:
    config = {
        "match": "any",
        "conditions": [{"column": "country", "value": "DE"}, {"column": "amount", "operator": "lt", "value": 20}],
    }
    assert run("transform.filter", config, table=orders)["table"]["id"].tolist() == [2, 3]


def test_filter_comparisons_with_null_are_false_like_sql(orders: pd.DataFrame) -> None:
    not_kr = run(
        "transform.filter", {"conditions": [{"column": "country", "operator": "ne", "value": "KR"}]}, table=orders
    )
    assert not_kr["table"]["id"].tolist() == [2]
    nulls = run("transform.filter", {"conditions": [{"column": "country", "operator": "is_null"}]}, table=orders)
    assert nulls["table"]["id"].tolist() == [3]


def test_filter_compares_with_another_column(orders: pd.DataFrame) -> None:
    config = {"conditions": [{"column": "amount", "operator": "gt", "value_column": "budget"}]}
    assert run("transform.filter", config, table=orders)["table"]["id"].tolist() == [1, 3]


def test_filter_text_and_list_operators(orders: pd.DataFrame) -> None:
    in_list = {"conditions": [{"column": "country", "operator": "in", "value": ["DE", "FR"]}]}
    assert run("transform.filter", in_list, table=orders)["table"]["id"].tolist() == [2]
    regex = {"conditions": [{"column": "country", "operator": "matches", "value": "^K"}]}
    assert run("transform.filter", regex, table=orders)["table"]["id"].tolist() == [1, 4]


def test_filter_names_a_missing_column(orders: pd.DataFrame) -> None:
    with pytest.raises(NodeError, match="'colour' not in input 'table'"):
        run("transform.filter", {"conditions": [{"column": "colour", "value": "red"}]}, table=orders)


def test_filter_comparing_text_with_a_number_is_a_node_error(orders: pd.DataFrame) -> None:
    with pytest.raises(NodeError, match="cannot compare"):
        run("transform.filter", {"conditions": [{"column": "country", "operator": "gt", "value": 3}]}, table=orders)


@pytest.mark.parametrize(
    "condition",
    [
        {"column": "a", "operator": "in", "value": "x"},
        {"column": "a", "operator": "is_null", "value": 1},
        {"column": "a", "operator": "matches", "value": "("},
        {"column": "a", "operator": "gt"},
        {"column": "a", "operator": "contains", "value": 3},
        {"column": "a", "operator": "contains", "value_column": "b"},
    ],
)
def test_filter_config_refuses_operands_that_do_not_suit_the_operator(condition: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        registry()["transform.filter"].config_model.model_validate({"conditions": [condition]})


def test_a_table_input_of_another_kind_is_named() -> None:
    with pytest.raises(NodeError, match="input 'table' must be a table"):
        run("transform.select", {"columns": ["a"]}, table=[{"a": 1}])


# -- select, rename ---------------------------------------------------------------------------------


def test_select_keeps_in_the_given_order_and_drops(orders: pd.DataFrame) -> None:
    assert list(run("transform.select", {"columns": ["amount", "id"]}, table=orders)["table"].columns) == [
        "amount",
        "id",
    ]
    dropped = run("transform.select", {"columns": ["budget"], "mode": "drop"}, table=orders)["table"]
    assert list(dropped.columns) == ["id", "country", "amount"]


def test_rename_refuses_a_clash_with_an_existing_column(orders: pd.DataFrame) -> None:
    assert "nation" in run("transform.rename", {"columns": {"country": "nation"}}, table=orders)["table"]
    with pytest.raises(NodeError, match="two columns the name"):
        run("transform.rename", {"columns": {"country": "amount"}}, table=orders)


# -- cast -------------------------------------------------------------------------------------------


def test_cast_converts_types_and_names_a_bad_value() -> None:
    table = pd.DataFrame(
        {"n": ["1", "2", None], "flag": ["yes", "off", None], "day": ["2024-03-01", None, "2024-03-03"]}
    )
    cast = run("transform.cast", {"columns": {"n": "integer", "flag": "boolean", "day": "date"}}, table=table)["table"]
    assert str(cast["n"].dtype) == "Int64" and cast["n"].tolist()[:2] == [1, 2] and pd.isna(cast["n"][2])
    assert cast["flag"].tolist()[:2] == [True, False]
    assert cast["day"][0] == dt.date(2024, 3, 1)
    with pytest.raises(NodeError, match="column 'n' cannot be cast to integer"):
        run("transform.cast", {"columns": {"n": "integer"}}, table=pd.DataFrame({"n": ["1", "x"]}))


def test_cast_with_errors_null_turns_bad_values_into_nulls() -> None:
    table = pd.DataFrame({"n": ["1", "x", "2.5"]})
    cast = run("transform.cast", {"columns": {"n": "integer"}, "errors": "null"}, table=table)["table"]
    assert cast["n"][0] == 1 and pd.isna(cast["n"][1]) and pd.isna(cast["n"][2])


# -- join -------------------------------------------------------------------------------------------


def test_join_inner_left_and_cross(orders: pd.DataFrame) -> None:
    countries = pd.DataFrame({"code": ["KR", "DE"], "name": ["Korea", "Germany"]})
    inner = run("transform.join", {"left_on": ["country"], "right_on": ["code"]}, left=orders, right=countries)
    assert sorted(inner["table"]["name"]) == ["Germany", "Korea", "Korea"]
    left = run(
        "transform.join", {"how": "left", "left_on": ["country"], "right_on": ["code"]}, left=orders, right=countries
    )
    assert len(left["table"]) == 4
    cross = run("transform.join", {"how": "cross"}, left=orders, right=countries)
    assert len(cross["table"]) == 8


def test_join_names_the_side_missing_a_key(orders: pd.DataFrame) -> None:
    with pytest.raises(NodeError, match="not in input 'right'"):
        run("transform.join", {"on": ["country"]}, left=orders, right=pd.DataFrame({"code": ["KR"]}))


def test_join_config_needs_keys() -> None:
    with pytest.raises(ValidationError, match="key columns"):
        registry()["transform.join"].config_model.model_validate({"how": "inner"})


# -- aggregate --------------------------------------------------------------------------------------


def test_aggregate_groups_keep_null_keys(orders: pd.DataFrame) -> None:
    config = {
        "group_by": ["country"],
        "aggregations": [{"function": "rows"}, {"function": "sum", "column": "amount", "name": "total"}],
    }
    table = run("transform.aggregate", config, table=orders)["table"]
    by_country = {("null" if pd.isna(k) else k): (rows, total) for k, rows, total in table.itertuples(index=False)}
    assert by_country == {"DE": (1, 80.5), "KR": (2, 120.0), "null": (1, 10.0)}


def test_aggregate_without_groups_is_one_row(orders: pd.DataFrame) -> None:
    config = {
        "aggregations": [
            {"function": "rows"},
            {"function": "count", "column": "amount"},
            {"function": "max", "column": "amount"},
            {"function": "last", "column": "amount"},
            {"function": "count_distinct", "column": "country"},
        ]
    }
    row = run("transform.aggregate", config, table=orders)["table"].iloc[0].to_dict()
    assert row == {"rows": 4, "amount_count": 3, "amount_max": 120.0, "amount_last": 10.0, "country_count_distinct": 2}


def test_aggregate_of_text_by_mean_is_a_node_error(orders: pd.DataFrame) -> None:
    with pytest.raises(NodeError, match="cannot aggregate"):
        run("transform.aggregate", {"aggregations": [{"function": "mean", "column": "country"}]}, table=orders)


def test_aggregate_config_refuses_clashing_result_names() -> None:
    with pytest.raises(ValidationError, match="more than once"):
        registry()["transform.aggregate"].config_model.model_validate(
            {"group_by": ["rows"], "aggregations": [{"function": "rows"}]}
        )


# -- sort, dedupe, fill -----------------------------------------------------------------------------


def test_sort_descending_with_nulls_first_is_stable(orders: pd.DataFrame) -> None:
    table = run("transform.sort", {"by": [{"column": "country", "descending": True}], "nulls": "first"}, table=orders)
    assert table["table"]["id"].tolist() == [3, 1, 4, 2]


def test_dedupe_on_columns_keeping_first_last_or_none(orders: pd.DataFrame) -> None:
    assert run("transform.dedupe", {"columns": ["country"]}, table=orders)["table"]["id"].tolist() == [1, 2, 3]
    assert run("transform.dedupe", {"columns": ["country"], "keep": "last"}, table=orders)["table"]["id"].tolist() == [
        2,
        3,
        4,
    ]
    assert run("transform.dedupe", {"columns": ["country"], "keep": "none"}, table=orders)["table"]["id"].tolist() == [
        2,
        3,
    ]


def test_fill_constants_forward_and_backward() -> None:
    table = pd.DataFrame({"a": [None, 2.0, None], "b": [1.0, None, 3.0], "c": [None, None, "z"]})
    filled = run("transform.fill", {"values": {"a": 0}, "forward": ["b"], "backward": ["c"]}, table=table)["table"]
    assert filled["a"].tolist() == [0.0, 2.0, 0.0]
    assert filled["b"].tolist() == [1.0, 1.0, 3.0]
    assert filled["c"].tolist() == ["z", "z", "z"]


def test_fill_with_a_value_the_column_cannot_hold_names_the_column() -> None:
    with pytest.raises(NodeError, match=r"column 'a' .* cannot hold 'none'"):
        run("transform.fill", {"values": {"a": "none"}}, table=pd.DataFrame({"a": [1.0, None]}))
