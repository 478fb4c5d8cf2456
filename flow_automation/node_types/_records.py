"""Rows as plain Python records, for the node types that write them elsewhere (SQL, MongoDB, Kafka).

pandas keeps numbers as numpy scalars and missing values as NaN, NaT or NA;
drivers want Python ints, floats, datetimes and ``None``. Every writer goes
through :func:`table_records` so a null is a null in every sink.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from flow_automation.node_types._base import NodeError


def python_value(value: Any) -> Any:
    """A cell as a plain Python value: numpy scalars unwrapped, every kind of missing value as ``None``."""
    if value is None:
        return None
    if isinstance(value, list | tuple | dict | set | frozenset):
        return value
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        return value
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if isinstance(value, pd.Timedelta):
        return value.to_pytimedelta()
    item = getattr(value, "item", None)
    if item is not None and type(value).__module__ == "numpy":
        return item()
    return value


def table_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``table`` as dicts of plain values, keyed by the column names as text."""
    columns = [str(column) for column in table.columns]
    if len(set(columns)) != len(columns):
        repeated = sorted({column for column in columns if columns.count(column) > 1})
        raise NodeError(f"the table has more than one column named {repeated}; rename them first")
    return [
        {column: python_value(value) for column, value in zip(columns, row, strict=True)}
        for row in table.itertuples(index=False, name=None)
    ]


def documents_input(inputs: Mapping[str, Any], name: str) -> list[dict[str, Any]]:
    """Input ``name`` as a list of dicts: a table's rows, a JSON list of objects, or one object."""
    if name not in inputs:
        raise NodeError(f"input {name!r} is missing; connect a table or a JSON list of objects")
    value = inputs[name]
    if isinstance(value, pd.DataFrame):
        return table_records(value)
    if isinstance(value, Mapping):
        return [dict(value)]
    if isinstance(value, list):
        for index, item in enumerate(value):
            if not isinstance(item, Mapping):
                raise NodeError(
                    f"input {name!r}: item {index} is a {type(item).__name__}, not an object; "
                    "every item must be a JSON object"
                )
        return [dict(item) for item in value]
    raise NodeError(f"input {name!r} must be a table, a JSON object or a list of objects, got {type(value).__name__}")
