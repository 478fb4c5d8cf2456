"""``transform.cast``: convert columns to another type.

``errors`` decides what a value that does not convert becomes: ``raise``
fails the node naming the column and the value, ``null`` turns it into a null
(a dirty feed can then be cleaned downstream with ``transform.fill`` or
``transform.filter``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeError, NodeType
from flow_automation.node_types._tables import TABLE_IN, TABLE_OUT, ColumnName, require_columns, table_input

TRUE_WORDS = frozenset({"true", "t", "yes", "y", "1", "on"})
FALSE_WORDS = frozenset({"false", "f", "no", "n", "0", "off"})


class CastType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    DATETIME = "datetime"
    DATE = "date"


class CastConfig(NodeConfig):
    columns: dict[ColumnName, CastType] = Field(
        min_length=1, title="Columns", description="each column and the type to convert it to"
    )
    errors: Literal["raise", "null"] = Field(
        "raise", title="On a value that does not convert", description="raise: fail the node; null: make it null"
    )
    datetime_format: str | None = Field(
        None,
        title="Date/time format",
        description="strftime format of the text, e.g. '%d.%m.%Y'; empty: ISO 8601 and other common forms",
    )


def run(context: NodeContext[CastConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    table = table_input(inputs)
    config = context.config
    require_columns(table, config.columns)
    converted = {
        column: _convert(table[column], target, config.errors, config.datetime_format)
        for column, target in config.columns.items()
    }
    return {"table": table.assign(**converted)}


def _convert(series: pd.Series, target: CastType, errors: str, datetime_format: str | None) -> pd.Series:
    coerce = "coerce" if errors == "null" else "raise"
    try:
        if target is CastType.STRING:
            return series.astype("string")
        if target is CastType.FLOAT:
            return pd.to_numeric(series, errors=coerce).astype("float64")
        if target is CastType.INTEGER:
            return _to_integer(series, errors)
        if target is CastType.BOOLEAN:
            return _to_boolean(series, errors)
        moments = pd.to_datetime(series, errors=coerce, format=datetime_format)
        return moments.dt.date if target is CastType.DATE else moments
    except (ValueError, TypeError, OverflowError) as exc:
        raise NodeError(f"column {series.name!r} cannot be cast to {target.value}: {exc}") from exc


def _to_integer(series: pd.Series, errors: str) -> pd.Series:
    numbers = pd.to_numeric(series, errors="coerce" if errors == "null" else "raise")
    fractional = numbers.notna() & (numbers != numbers.round())
    if fractional.any():
        if errors == "raise":
            raise ValueError(f"{series[fractional].iloc[0]!r} is not a whole number")
        numbers = numbers.mask(fractional)
    return numbers.astype("Int64")


def _to_boolean(series: pd.Series, errors: str) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.astype("boolean")
    if pd.api.types.is_numeric_dtype(series):
        return (series != 0).astype("boolean").mask(series.isna())
    values = []
    for item in series:
        word = None if pd.api.types.is_scalar(item) and pd.isna(item) else str(item).strip().lower()
        if word in TRUE_WORDS or word in FALSE_WORDS:
            values.append(word in TRUE_WORDS)
        elif word is None or errors == "null":
            values.append(None)
        else:
            raise ValueError(f"{item!r} is not a boolean; use one of {sorted(TRUE_WORDS | FALSE_WORDS)}")
    return pd.Series(values, index=series.index, dtype="boolean", name=series.name)


NODE_TYPE = NodeType(
    id="transform.cast",
    title="Cast types",
    category="Transform",
    description="Convert columns to text, integer, float, boolean, date/time or date.",
    inputs=(TABLE_IN,),
    outputs=(TABLE_OUT,),
    config_model=CastConfig,
    run=run,
)
