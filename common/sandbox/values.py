"""Values crossing the sandbox boundary as JSON.

Tables travel in pandas' "table" orientation (Frictionless Table Schema):
``{"schema": {"fields": [...], "primaryKey": [...], "pandas_version": "..."},
"data": [records]}``. A program's ``result`` that is a DataFrame or Series is
returned that way, and an input of that shape arrives as a DataFrame. Other
values map to their natural JSON form (numpy scalars to numbers, datetimes to
ISO 8601, Decimal to string, sets and tuples to lists, NaN to null).
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
from decimal import Decimal
from typing import Any

MAX_DEPTH = 64


class UnserializableResult(TypeError):
    """The program's result has a type that cannot travel as JSON."""


def is_table(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"schema", "data"}
        and isinstance(value["schema"], dict)
        and isinstance(value["schema"].get("fields"), list)
        and isinstance(value["data"], list)
    )


def decode_inputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """Inputs with every table-shaped value turned into a DataFrame."""
    return {name: decode_value(value) for name, value in inputs.items()}


def decode_value(value: Any) -> Any:
    if is_table(value):
        import pandas as pd

        return pd.read_json(io.StringIO(json.dumps(value)), orient="table")
    return value


def encode_value(value: Any, depth: int = 0) -> Any:
    """JSON-ready form of ``value``; :class:`UnserializableResult` when there is none."""
    if depth > MAX_DEPTH:
        raise UnserializableResult("the result is nested too deeply")
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {_key(key): encode_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [encode_value(item, depth + 1) for item in value]
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode()
    library = (type(value).__module__ or "").split(".", 1)[0]
    if library == "pandas":
        return _encode_pandas(value, depth)
    if library == "numpy":
        return encode_value(value.tolist() if hasattr(value, "tolist") else value.item(), depth + 1)
    raise UnserializableResult(
        f"a result of type {type(value).__name__} cannot be returned; "
        "use dicts, lists, numbers, strings, dates or pandas objects"
    )


def _encode_pandas(value: Any, depth: int) -> Any:
    import pandas as pd

    if isinstance(value, pd.Series):
        value = value.to_frame(name=value.name if value.name is not None else "value")
    if isinstance(value, pd.DataFrame):
        frame = value
        if frame.columns.nlevels > 1 or frame.columns.has_duplicates:
            frame = frame.copy()
            frame.columns = [str(column) for column in frame.columns.to_flat_index()]
            if frame.columns.has_duplicates:
                raise UnserializableResult("the DataFrame has duplicate column names; rename them first")
        return json.loads(frame.to_json(orient="table", date_format="iso", default_handler=str))
    if isinstance(value, pd.Timestamp):
        return None if pd.isna(value) else value.isoformat()
    if isinstance(value, pd.Timedelta):
        return value.total_seconds()
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Index):
        return encode_value(value.tolist(), depth + 1)
    raise UnserializableResult(f"a result of type pandas.{type(value).__name__} cannot be returned")


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if key is None or isinstance(key, bool | int | float | Decimal):
        return json.dumps(encode_value(key))
    if isinstance(key, dt.date | dt.datetime):
        return key.isoformat()
    return str(key)
