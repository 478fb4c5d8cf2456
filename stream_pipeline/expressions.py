"""The expression language of filter and map steps: small, safe, compiled once.

An expression is Python-shaped (``amount > 10 and country == 'KR'``,
``amount * 1300``, ``lower(email) if email is not null else 'n/a'``) but is
never given to ``eval``. :func:`compile_expression` parses it with :mod:`ast`,
accepts only the node types listed below and turns the tree into a chain of
Python closures; evaluating it is calling the closure with a record. What it
cannot express, it cannot do: there are no attributes of Python objects, no
imports, no lambdas, no comprehensions, no assignments.

What it offers:

- names are fields of the message (``amount``); ``a.b`` and ``a['b']`` reach
  into nested objects, ``items[0]`` into lists. A missing field is ``null``;
- ``_value`` (the whole message), ``_key``, ``_topic``, ``_partition``,
  ``_offset`` and ``_timestamp`` (milliseconds) describe the Kafka record;
- ``true``/``false``/``null`` (and Python's ``True``/``False``/``None``);
  numbers, strings, lists ``[...]`` and objects ``{...}``;
- ``and or not``, ``== != < <= > >=``, ``in``/``not in``, ``is null``/
  ``is not null``, ``+ - * / // % **``, ``x if cond else y``;
- the functions in :data:`FUNCTIONS` (``len``, ``lower``, ``coalesce``, ...).

Ordering comparisons with ``null`` are false rather than an error (a record
without ``amount`` does not pass ``amount > 10``); arithmetic on ``null`` or on
mismatched types is an error, which sends the record to the dead-letter topic.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import time
from collections.abc import Callable
from functools import lru_cache
from typing import Any

MAX_EXPRESSION_LENGTH = 4000
MAX_SEQUENCE_RESULT = 1_000_000  # longest string or list an expression may build with * or +
MAX_EXPONENT = 1000

Evaluator = Callable[[Any], Any]


class ExpressionSyntaxError(ValueError):
    """The expression is not valid in the language; the message names the offending part."""


class ExpressionError(ValueError):
    """Evaluating the expression on a record failed (a type mismatch, a bad argument)."""


_RECORD_NAMES: dict[str, Callable[[Any], Any]] = {
    "_value": lambda record: record.value,
    "_key": lambda record: _key_text(record.key),
    "_topic": lambda record: record.topic,
    "_partition": lambda record: record.partition,
    "_offset": lambda record: record.offset,
    "_timestamp": lambda record: record.timestamp,
}

_CONSTANT_NAMES = {"true": True, "false": False, "null": None, "True": True, "False": False, "None": None}


def _key_text(key: Any) -> Any:
    if isinstance(key, bytes | bytearray):
        try:
            return bytes(key).decode()
        except UnicodeDecodeError:
            return key.hex()
    return key


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str):
        raise ExpressionError(f"{name}() needs a string, got {_type_name(value)}")
    return value


def _number(value: Any, name: str) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ExpressionError(f"{name}() needs a number, got {_type_name(value)}")
    return value


def _to_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ExpressionError(f"int() cannot convert {_preview(value)}") from exc


def _to_float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise ExpressionError(f"float() cannot convert {_preview(value)}") from exc


def _to_str(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _length(value: Any) -> int:
    if not isinstance(value, str | list | dict | bytes):
        raise ExpressionError(f"len() needs a string, list or object, got {_type_name(value)}")
    return len(value)


def _round(value: Any, digits: Any = 0) -> float | int:
    return round(_number(value, "round"), _to_int(digits))


def _coalesce(*values: Any) -> Any:
    return next((value for value in values if value is not None), None)


def _contains(container: Any, item: Any) -> bool:
    if container is None:
        return False
    if isinstance(container, str):
        return _text(item, "contains") in container
    if isinstance(container, list | dict):
        return item in container
    raise ExpressionError(f"contains() needs a string, list or object, got {_type_name(container)}")


@lru_cache(maxsize=256)
def _regex(pattern: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise ExpressionError(f"matches(): invalid regular expression {pattern!r}: {exc}") from exc


def _matches(value: Any, pattern: Any) -> bool:
    if value is None:
        return False
    return _regex(_text(pattern, "matches")).search(_text(value, "matches")) is not None


def _split(value: Any, separator: Any = None) -> list[str]:
    return _text(value, "split").split(None if separator is None else _text(separator, "split"))


def _substr(value: Any, start: Any, end: Any = None) -> str:
    text = _text(value, "substr")
    return text[_to_int(start) : None if end is None else _to_int(end)]


def _concat(*values: Any) -> str:
    return "".join(_to_str(value) for value in values)


def _minimum(*values: Any) -> Any:
    present = [value for value in values if value is not None]
    return min(present) if present else None


def _maximum(*values: Any) -> Any:
    present = [value for value in values if value is not None]
    return max(present) if present else None


#: The functions expressions may call, by name. Each checks its arguments and raises ExpressionError.
FUNCTIONS: dict[str, Callable[..., Any]] = {
    "len": _length,
    "lower": lambda value: _text(value, "lower").lower(),
    "upper": lambda value: _text(value, "upper").upper(),
    "strip": lambda value: _text(value, "strip").strip(),
    "startswith": lambda value, prefix: isinstance(value, str) and value.startswith(_text(prefix, "startswith")),
    "endswith": lambda value, suffix: isinstance(value, str) and value.endswith(_text(suffix, "endswith")),
    "replace": lambda value, old, new: _text(value, "replace").replace(_text(old, "replace"), _text(new, "replace")),
    "split": _split,
    "substr": _substr,
    "concat": _concat,
    "contains": _contains,
    "matches": _matches,
    "abs": lambda value: abs(_number(value, "abs")),
    "round": _round,
    "floor": lambda value: math.floor(_number(value, "floor")),
    "ceil": lambda value: math.ceil(_number(value, "ceil")),
    "min": _minimum,
    "max": _maximum,
    "int": _to_int,
    "float": _to_float,
    "str": _to_str,
    "bool": bool,
    "coalesce": _coalesce,
    "now": lambda: time.time(),
}


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    return {bool: "boolean", int: "number", float: "number", str: "string", list: "list", dict: "object"}.get(
        type(value), type(value).__name__
    )


def _preview(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_size(value: Any) -> Any:
    if isinstance(value, str | list | bytes) and len(value) > MAX_SEQUENCE_RESULT:
        raise ExpressionError(f"the result would be longer than {MAX_SEQUENCE_RESULT} items")
    return value


def _multiply(left: Any, right: Any) -> Any:
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | list) and isinstance(count, int) and len(sequence) * count > MAX_SEQUENCE_RESULT:
            raise ExpressionError(f"the result would be longer than {MAX_SEQUENCE_RESULT} items")
    return left * right


def _power(left: Any, right: Any) -> Any:
    if isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
        raise ExpressionError(f"exponents above {MAX_EXPONENT} are not allowed")
    return left**right


def _add(left: Any, right: Any) -> Any:
    return _check_size(left + right)


_BINARY: dict[type[ast.operator], tuple[str, Callable[[Any, Any], Any]]] = {
    ast.Add: ("+", _add),
    ast.Sub: ("-", operator.sub),
    ast.Mult: ("*", _multiply),
    ast.Div: ("/", operator.truediv),
    ast.FloorDiv: ("//", operator.floordiv),
    ast.Mod: ("%", operator.mod),
    ast.Pow: ("**", _power),
}


_NUMBERS = (int, float)
_PLAIN_ARITHMETIC: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def guarded(left: Any, right: Any) -> bool:
        if left is None or right is None:
            return False
        return compare(left, right)

    return guarded


def _membership(item: Any, container: Any) -> bool:
    if container is None:
        return False
    if isinstance(container, str) and not isinstance(item, str):
        raise ExpressionError(f"'in' on a string needs a string on the left, got {_type_name(item)}")
    return item in container


_PLAIN_ORDERED: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}

_COMPARE: dict[type[ast.cmpop], tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Eq: ("==", operator.eq),
    ast.NotEq: ("!=", operator.ne),
    ast.Lt: ("<", _ordered(operator.lt)),
    ast.LtE: ("<=", _ordered(operator.le)),
    ast.Gt: (">", _ordered(operator.gt)),
    ast.GtE: (">=", _ordered(operator.ge)),
    ast.In: ("in", _membership),
    ast.NotIn: ("not in", lambda item, container: not _membership(item, container)),
    ast.Is: ("is", operator.is_),
    ast.IsNot: ("is not", operator.is_not),
}


def field_getter(name: str) -> Evaluator:
    """The closure reading field ``name`` of a record's value (``null`` when absent)."""

    def read(record: Any) -> Any:
        value = record.value
        return value.get(name) if type(value) is dict else None

    return read


def _child(container: Any, key: Any) -> Any:
    if container is None:
        return None
    if isinstance(container, dict):
        return container.get(key) if isinstance(key, str) else container.get(str(key))
    if isinstance(container, list | str):
        if isinstance(key, bool) or not isinstance(key, int):
            raise ExpressionError(f"a {_type_name(container)} index must be a whole number, got {_type_name(key)}")
        return container[key] if -len(container) <= key < len(container) else None
    raise ExpressionError(f"cannot look up {_preview(key)} in a {_type_name(container)}")


class _Compiler:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, node: ast.AST, message: str) -> ExpressionSyntaxError:
        column = getattr(node, "col_offset", None)
        where = f" at column {column + 1}" if column is not None else ""
        return ExpressionSyntaxError(f"{message}{where} in {self.source!r}")

    def compile(self, node: ast.AST) -> Evaluator:  # noqa: C901 - one branch per node type reads best
        if isinstance(node, ast.Constant):
            if not isinstance(node.value, str | int | float | bool | type(None)):
                raise self.fail(node, f"literal {node.value!r} is not supported")
            value = node.value
            return lambda record: value
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise self.fail(node, f"write field {node.attr!r} as ['{node.attr}'] (a.b is for plain field names)")
            parent, key = self.compile(node.value), node.attr
            return lambda record: _child(parent(record), key)
        if isinstance(node, ast.Subscript):
            if isinstance(node.slice, ast.Slice):
                raise self.fail(node, "slices are not supported; use substr()")
            parent, index = self.compile(node.value), self.compile(node.slice)
            return lambda record: _child(parent(record), index(record))
        if isinstance(node, ast.BoolOp):
            return self.boolean(node)
        if isinstance(node, ast.UnaryOp):
            return self.unary(node)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.Compare):
            return self.comparison(node)
        if isinstance(node, ast.IfExp):
            test, body, orelse = self.compile(node.test), self.compile(node.body), self.compile(node.orelse)
            return lambda record: body(record) if test(record) else orelse(record)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.List | ast.Tuple):
            items = [self.compile(item) for item in node.elts]
            return lambda record: [item(record) for item in items]
        if isinstance(node, ast.Dict):
            if any(key is None for key in node.keys):
                raise self.fail(node, "'**' in objects is not supported")
            pairs = [
                (self.compile(key), self.compile(value)) for key, value in zip(node.keys, node.values, strict=True)
            ]
            return lambda record: {_to_str(key(record)): value(record) for key, value in pairs}
        raise self.fail(node, f"{type(node).__name__} is not allowed in expressions")

    def name(self, node: ast.Name) -> Evaluator:
        if node.id in _CONSTANT_NAMES:
            constant = _CONSTANT_NAMES[node.id]
            return lambda record: constant
        if node.id in _RECORD_NAMES:
            return _RECORD_NAMES[node.id]
        if node.id in FUNCTIONS:
            raise self.fail(node, f"{node.id} is a function; call it as {node.id}(...)")
        return field_getter(node.id)

    def boolean(self, node: ast.BoolOp) -> Evaluator:
        operands = [self.compile(value) for value in node.values]
        if isinstance(node.op, ast.And):
            if len(operands) == 2:
                first, second = operands
                return lambda record: first(record) and second(record)

            def all_of(record: Any) -> Any:
                result: Any = True
                for operand in operands:
                    result = operand(record)
                    if not result:
                        return result
                return result

            return all_of

        def any_of(record: Any) -> Any:
            result: Any = False
            for operand in operands:
                result = operand(record)
                if result:
                    return result
            return result

        return any_of

    def unary(self, node: ast.UnaryOp) -> Evaluator:
        operand = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda record: not operand(record)
        if isinstance(node.op, ast.USub | ast.UAdd):
            sign = -1 if isinstance(node.op, ast.USub) else 1

            def signed(record: Any) -> Any:
                value = operand(record)
                if isinstance(value, bool) or not isinstance(value, int | float):
                    raise ExpressionError(f"cannot negate a {_type_name(value)} in {self.source!r}")
                return sign * value

            return signed
        raise self.fail(node, f"operator {type(node.op).__name__} is not supported")

    def binary(self, node: ast.BinOp) -> Evaluator:
        entry = _BINARY.get(type(node.op))
        if entry is None:
            raise self.fail(node, f"operator {type(node.op).__name__} is not supported")
        symbol, function = entry
        left, right = self.compile(node.left), self.compile(node.right)
        source = self.source
        plain = _PLAIN_ARITHMETIC.get(type(node.op))

        def apply(record: Any) -> Any:
            a, b = left(record), right(record)
            if plain is not None and type(a) in _NUMBERS and type(b) in _NUMBERS:
                try:
                    return plain(a, b)  # numbers only: no size guard needed
                except ArithmeticError:
                    pass  # reported below with the operands
            try:
                return function(a, b)
            except ExpressionError:
                raise
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise ExpressionError(
                    f"cannot compute {_type_name(a)} {symbol} {_type_name(b)} ({_preview(a)} {symbol} {_preview(b)})"
                    f" in {source!r}: {exc}"
                ) from None

        return apply

    def comparison(self, node: ast.Compare) -> Evaluator:
        parts = [self.compile(node.left), *(self.compile(item) for item in node.comparators)]
        operators = []
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            if isinstance(op, ast.Is | ast.IsNot) and not (
                isinstance(comparator, ast.Name) and comparator.id in ("null", "None")
            ):
                raise self.fail(node, "'is' and 'is not' only compare with null; use == for values")
            operators.append(_COMPARE[type(op)])
        source = self.source

        if len(operators) == 1:
            (symbol, function), (left, right) = operators[0], parts
            fast = self.fast_comparison(node, type(node.ops[0]), left)
            if fast is not None:
                return fast

            def compare_two(record: Any) -> bool:
                a, b = left(record), right(record)
                try:
                    return function(a, b)
                except TypeError:
                    raise ExpressionError(
                        f"cannot compare {_type_name(a)} {symbol} {_type_name(b)}"
                        f" ({_preview(a)} {symbol} {_preview(b)}) in {source!r}"
                    ) from None

            return compare_two

        def compare_chain(record: Any) -> bool:
            left_value = parts[0](record)
            for (symbol, function), part in zip(operators, parts[1:], strict=True):
                right_value = part(record)
                try:
                    if not function(left_value, right_value):
                        return False
                except TypeError:
                    raise ExpressionError(
                        f"cannot compare {_type_name(left_value)} {symbol} {_type_name(right_value)} in {source!r}"
                    ) from None
                left_value = right_value
            return True

        return compare_chain

    def fast_comparison(self, node: ast.Compare, op: type[ast.cmpop], left: Evaluator) -> Evaluator | None:
        """``field <op> constant``, the most common filter, without the generic machinery."""
        comparator = node.comparators[0]
        if not isinstance(comparator, ast.Constant) or not isinstance(comparator.value, int | float | str):
            return None
        constant, source = comparator.value, self.source
        plain = _PLAIN_ORDERED.get(op)
        if plain is not None:

            def ordered(record: Any) -> bool:
                value = left(record)
                if value is None:
                    return False
                try:
                    return plain(value, constant)
                except TypeError:
                    raise ExpressionError(
                        f"cannot compare {_type_name(value)} with {_type_name(constant)}"
                        f" ({_preview(value)} vs {_preview(constant)}) in {source!r}"
                    ) from None

            return ordered
        if op is ast.Eq:
            return lambda record: left(record) == constant
        if op is ast.NotEq:
            return lambda record: left(record) != constant
        return None

    def call(self, node: ast.Call) -> Evaluator:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            shown = ast.unparse(node.func)
            raise self.fail(node, f"unknown function {shown!r}; available: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords or any(isinstance(arg, ast.Starred) for arg in node.args):
            raise self.fail(node, f"{node.func.id}() takes positional arguments only")
        function, name = FUNCTIONS[node.func.id], node.func.id
        arguments = [self.compile(arg) for arg in node.args]

        def invoke(record: Any) -> Any:
            values = [argument(record) for argument in arguments]
            try:
                return function(*values)
            except ExpressionError:
                raise
            except (TypeError, ValueError, ArithmeticError) as exc:
                raise ExpressionError(f"{name}() failed: {exc}") from None

        return invoke


def compile_expression(source: str) -> Evaluator:
    """Compile ``source`` into a function of a record; :class:`ExpressionSyntaxError` if it is not valid."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionSyntaxError("an expression must be a non-empty string")
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionSyntaxError(f"an expression may be at most {MAX_EXPRESSION_LENGTH} characters long")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionSyntaxError(f"invalid syntax at column {exc.offset or 0} in {source!r}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionSyntaxError(f"cannot parse {source!r}: {exc}") from None
    try:
        return _Compiler(source).compile(tree.body)
    except RecursionError:
        raise ExpressionSyntaxError(f"expression {source[:60]!r} is nested too deeply") from None


def check_expression(source: str) -> str:
    """``source`` unchanged if it compiles; for pydantic validators."""
    compile_expression(source)
    return source
