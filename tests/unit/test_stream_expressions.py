"""The stream expression language: what it computes, and what it refuses to compile or evaluate."""

from __future__ import annotations

import re
from typing import Any

import pytest

from stream_pipeline.expressions import ExpressionError, ExpressionSyntaxError, compile_expression
from stream_pipeline.records import Record


def evaluate(source: str, value: Any, **metadata: Any) -> Any:
    return compile_expression(source)(Record(value, **metadata))


@pytest.mark.parametrize(
    ("source", "value", "expected"),
    [
        ("amount > 10 and country == 'KR'", {"amount": 12, "country": "KR"}, True),
        ("amount > 10 and country == 'KR'", {"amount": 12, "country": "US"}, False),
        ("amount > 10 and country == 'KR'", {"amount": 5, "country": "KR"}, False),
        ("amount * 1300", {"amount": 2.5}, 3250.0),
        ("amount > 10", {}, False),  # a missing field is null; ordering with null is false
        ("email is null", {}, True),
        ("email is not null", {"email": "a@b"}, True),
        ("customer.address.city", {"customer": {"address": {"city": "Seoul"}}}, "Seoul"),
        ("customer['name']", {"customer": {"name": "Kim"}}, "Kim"),
        ("items[1]", {"items": [1, 2, 3]}, 2),
        ("items[9]", {"items": [1]}, None),
        ("missing.deeper.still", {}, None),
        ("'vip' in tags", {"tags": ["new", "vip"]}, True),
        ("country not in ['KR', 'JP']", {"country": "US"}, True),
        ("lower(name) == 'kim'", {"name": "KIM"}, True),
        ("coalesce(nickname, name, 'anonymous')", {"name": "Lee"}, "Lee"),
        ("concat(first, ' ', last)", {"first": "Ada", "last": "Lovelace"}, "Ada Lovelace"),
        ("len(items)", {"items": [1, 2]}, 2),
        ("round(price * 1.1, 2)", {"price": 10}, 11.0),
        ("'big' if amount >= 100 else 'small'", {"amount": 100}, "big"),
        ("1 < amount <= 3", {"amount": 3}, True),
        ("not active", {"active": False}, True),
        ("-amount", {"amount": 4}, -4),
        ("{'id': id, 'twice': id * 2}", {"id": 3}, {"id": 3, "twice": 6}),
        ("matches(code, '^A[0-9]+$')", {"code": "A123"}, True),
        ("true and null is null", {}, True),
        ("int('42') + float('0.5')", {}, 42.5),
        ("substr(name, 0, 2)", {"name": "Dataflow"}, "Da"),
        ("_value", 7, 7),
        ("_value > 3", 7, True),
    ],
)
def test_expression_computes(source: str, value: Any, expected: Any) -> None:
    assert evaluate(source, value) == expected


def test_record_metadata_names() -> None:
    record = Record({"a": 1}, key=b"k-1", topic="orders", partition=2, offset=41, timestamp=1000)
    assert compile_expression("concat(_topic, ':', _partition, ':', _offset)")(record) == "orders:2:41"
    assert compile_expression("_key")(record) == "k-1"
    assert compile_expression("_timestamp")(record) == 1000


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os').system('id')",
        "().__class__.__bases__[0].__subclasses__()",
        "open('/etc/passwd')",
        "eval('1')",
        "exec('x = 1')",
        "lambda: 1",
        "[x for x in items]",
        "x := 1",
        "amount.__class__",  # a.b is a field lookup, never a Python attribute; dunder names are refused outright
        "getattr(amount, 'real')",
        "items[1:2]",
        "a = 1",
        "import os",
        "f'{amount}'",
        "amount >",
        "",
        "len",
        "amount is 3",
        "print(1)",
    ],
)
def test_refused_at_compile_time(source: str) -> None:
    with pytest.raises(ExpressionSyntaxError):
        compile_expression(source)


@pytest.mark.parametrize(
    ("source", "value", "fragment"),
    [
        ("amount * 1300", {}, "null * number"),
        ("amount + 'x'", {"amount": 1}, "number + string"),
        ("amount > 'x'", {"amount": 1}, "cannot compare"),
        ("lower(amount)", {"amount": 1}, "lower() needs a string"),
        ("'ab' * 10000000", {}, "longer than"),
        ("2 ** 100000", {}, "exponents above"),
        ("amount / 0", {"amount": 1}, "division by zero"),
        ("int('x')", {}, "int() cannot convert"),
        ("items['a']", {"items": [1]}, "index must be a whole number"),
    ],
)
def test_evaluation_errors_are_expression_errors(source: str, value: Any, fragment: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(fragment)):
        evaluate(source, value)


def test_deeply_nested_expression_is_refused_cleanly() -> None:
    with pytest.raises(ExpressionSyntaxError):
        compile_expression("(" * 500 + "1" + ")" * 500)
