"""The small condition language of ``transform.filter`` and ``branch``.

A condition is data, ``{"column": "amount", "operator": "gt", "value": 100}``,
never code: nothing a flow author writes is evaluated as Python, so a flow
definition cannot run anything the node types do not already do, and the
designer can render each condition as three form fields.

Nulls follow SQL: every comparison with a null is false, including ``ne``
and ``not_in``; a null matches ``is_null``, and counts as false for
``is_true`` / ``is_false`` (Python's truthiness, as a branch expects).
"""

from __future__ import annotations

import operator as op
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import pandas as pd

from flow_automation.node_types._base import NodeError

#: A value a condition compares with: a JSON scalar, or a list of them for ``in`` / ``not_in``.
ConditionValue = str | int | float | bool | list[str | int | float | bool | None] | None


class Operator(StrEnum):
    EQ = "eq"
    NE = "ne"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"
    IN = "in"
    NOT_IN = "not_in"
    CONTAINS = "contains"
    STARTS_WITH = "starts_with"
    ENDS_WITH = "ends_with"
    MATCHES = "matches"
    IS_NULL = "is_null"
    NOT_NULL = "not_null"
    IS_TRUE = "is_true"
    IS_FALSE = "is_false"


OPERATOR_HELP = (
    "eq, ne, gt, ge, lt, le compare with the value; in / not_in test membership in a list; "
    "contains, starts_with, ends_with test text; matches searches a regular expression; "
    "is_null, not_null, is_true, is_false take no value"
)

COMPARISONS: dict[Operator, Callable[[Any, Any], Any]] = {
    Operator.EQ: op.eq,
    Operator.NE: op.ne,
    Operator.GT: op.gt,
    Operator.GE: op.ge,
    Operator.LT: op.lt,
    Operator.LE: op.le,
}
TEXT_OPERATORS = frozenset({Operator.CONTAINS, Operator.STARTS_WITH, Operator.ENDS_WITH, Operator.MATCHES})
UNARY_OPERATORS = frozenset({Operator.IS_NULL, Operator.NOT_NULL, Operator.IS_TRUE, Operator.IS_FALSE})
LIST_OPERATORS = frozenset({Operator.IN, Operator.NOT_IN})


def check_operands(operator: Operator, value: Any, value_column: str | None = None) -> None:
    """Raise ``ValueError`` when ``value`` (or ``value_column``) does not suit ``operator``.

    Called by the config models, so a mistake is a 422 on save, not a failed run.
    """
    if value_column is not None:
        if operator not in COMPARISONS:
            raise ValueError(f"value_column works with {[o.value for o in COMPARISONS]}, not with {operator.value!r}")
        if value is not None:
            raise ValueError("give either value or value_column, not both")
        return
    if operator in UNARY_OPERATORS:
        if value is not None:
            raise ValueError(f"operator {operator.value!r} takes no value")
    elif operator in LIST_OPERATORS:
        if not isinstance(value, list):
            raise ValueError(f"operator {operator.value!r} needs a list value, e.g. ['a', 'b']")
    elif isinstance(value, list):
        raise ValueError(f"operator {operator.value!r} needs a single value, not a list")
    elif operator in TEXT_OPERATORS:
        _check_text_operand(operator, value)
    elif value is None and operator not in (Operator.EQ, Operator.NE):
        raise ValueError(f"operator {operator.value!r} needs a value; use is_null / not_null to test for nulls")


def _check_text_operand(operator: Operator, value: Any) -> None:
    if not isinstance(value, str):
        raise ValueError(f"operator {operator.value!r} needs a text value")
    if operator is Operator.MATCHES:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"value {value!r} is not a valid regular expression: {exc}") from exc


def column_mask(series: pd.Series, operator: Operator, value: Any, other: pd.Series | None = None) -> pd.Series:
    """A boolean mask of the rows of ``series`` that satisfy the condition."""
    present = series.notna()
    if operator is Operator.IS_NULL:
        return ~present
    if operator is Operator.NOT_NULL:
        return present
    if operator in (Operator.IS_TRUE, Operator.IS_FALSE):
        truthy = _truthiness(series)
        return truthy if operator is Operator.IS_TRUE else ~truthy
    if operator in LIST_OPERATORS:
        members = series.isin(value) & present
        return members if operator is Operator.IN else present & ~members
    if operator in TEXT_OPERATORS:
        return _text_mask(series.astype("string"), operator, value)
    operand = other if other is not None else value
    if operand is None:  # eq / ne null
        return ~present if operator is Operator.EQ else present
    try:
        result = COMPARISONS[operator](series, operand)
    except TypeError as exc:
        described = "the other column" if other is not None else repr(value)
        raise NodeError(f"cannot compare a column of type {series.dtype} with {described}: {exc}") from exc
    mask = result.fillna(False).astype(bool) & present
    return mask & other.notna() if other is not None else mask


def _text_mask(text: pd.Series, operator: Operator, value: str) -> pd.Series:
    if operator is Operator.CONTAINS:
        result = text.str.contains(value, regex=False)
    elif operator is Operator.STARTS_WITH:
        result = text.str.startswith(value)
    elif operator is Operator.ENDS_WITH:
        result = text.str.endswith(value)
    else:
        result = text.str.contains(value, regex=True)
    return result.fillna(False).astype(bool)


def _truthiness(series: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(series):
        return series.fillna(False).astype(bool)
    if pd.api.types.is_numeric_dtype(series):
        return (series.fillna(0) != 0).astype(bool)
    return pd.Series([_is_truthy(item) for item in series], index=series.index, dtype=bool)


def _is_truthy(item: Any) -> bool:
    return False if item is None or (isinstance(item, float) and item != item) else bool(item)


def evaluate(subject: Any, operator: Operator, value: Any) -> bool:
    """The condition on one value (``branch``); same meanings as :func:`column_mask`."""
    if operator is Operator.IS_NULL:
        return subject is None
    if operator is Operator.NOT_NULL:
        return subject is not None
    if operator is Operator.IS_TRUE:
        return _is_truthy(subject)
    if operator is Operator.IS_FALSE:
        return subject is None or not _is_truthy(subject)
    if subject is None:
        return operator is Operator.EQ and value is None
    if operator in LIST_OPERATORS:
        return (subject in value) == (operator is Operator.IN)
    if operator in TEXT_OPERATORS:
        return _text_matches(subject, operator, value)
    try:
        return bool(COMPARISONS[operator](subject, value))
    except TypeError as exc:
        raise NodeError(f"cannot compare {subject!r} with {value!r}: {exc}") from exc


def _text_matches(subject: Any, operator: Operator, value: str) -> bool:
    if operator is Operator.CONTAINS and isinstance(subject, list | dict):
        return value in subject
    text = subject if isinstance(subject, str) else str(subject)
    if operator is Operator.CONTAINS:
        return value in text
    if operator is Operator.STARTS_WITH:
        return text.startswith(value)
    if operator is Operator.ENDS_WITH:
        return text.endswith(value)
    return re.search(value, text) is not None
