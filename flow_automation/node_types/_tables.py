"""Helpers the ``transform.*`` types share: reading table inputs, checking columns.

Their errors name the input or column at fault and list what exists, because
the person reading them is looking at a flow, not at pandas.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Any

import pandas as pd
from pydantic import Field

from flow_automation.node_types._base import NodeError, Port, PortKind

TABLE_IN = Port(name="table", kind=PortKind.TABLE, description="the table to transform")
TABLE_OUT = Port(name="table", kind=PortKind.TABLE, description="the transformed table")

#: A column name in a config: never empty.
ColumnName = Annotated[str, Field(min_length=1)]


def table_input(inputs: Mapping[str, Any], name: str = "table") -> pd.DataFrame:
    """The input ``name`` as a DataFrame, or a :class:`NodeError` saying what arrived instead."""
    if name not in inputs:
        raise NodeError(f"input {name!r} is missing; connect it to a table output")
    value = inputs[name]
    if not isinstance(value, pd.DataFrame):
        raise NodeError(f"input {name!r} must be a table (a pandas DataFrame), got {type(value).__name__}")
    return value


def require_columns(table: pd.DataFrame, columns: Iterable[str], *, input_name: str = "table") -> None:
    """Fail naming every column the config uses that ``table`` lacks."""
    present = set(map(str, table.columns))
    missing = [column for column in dict.fromkeys(columns) if column not in present]
    if missing:
        noun = "column" if len(missing) == 1 else "columns"
        raise NodeError(
            f"{noun} {', '.join(repr(c) for c in missing)} not in input {input_name!r}; "
            f"its columns are {[str(c) for c in table.columns]}"
        )


def reject_duplicates(names: list[str], what: str = "column") -> list[str]:
    """For config validators: a name listed twice is almost always a mistake worth a 422."""
    seen: set[str] = set()
    repeated = [name for name in names if name in seen or seen.add(name)]  # type: ignore[func-returns-value]
    if repeated:
        raise ValueError(f"{what} {repeated[0]!r} is listed more than once")
    return names
