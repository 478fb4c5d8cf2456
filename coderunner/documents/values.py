"""Cell and property values as JSON: what a spreadsheet or a PDF holds, in types a client can read."""

from __future__ import annotations

import datetime as dt
import math
import re
from decimal import Decimal
from typing import Any

_PDF_DATE = re.compile(
    r"^D:(?P<year>\d{4})(?P<month>\d{2})?(?P<day>\d{2})?(?P<hour>\d{2})?(?P<minute>\d{2})?(?P<second>\d{2})?"
    r"(?P<zone>[Zz]|[+-]\d{2}'?\d{2}'?|[+-]\d{2}'?)?"
)


def json_value(value: Any) -> Any:
    """A value as JSON-ready data.

    Dates, times and datetimes become ISO 8601 strings; durations become
    seconds; non-finite floats (not JSON) become ``None``; bytes are decoded
    as UTF-8 with replacement; anything else unknown becomes its ``str``.
    """
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return str(value)


def text_or_none(value: Any) -> Any:
    """A property value with empty strings as ``None``: "no title" reads the same in every format."""
    converted = json_value(value)
    return None if converted == "" else converted


def pdf_date(value: Any) -> Any:
    """A PDF date (``D:20240131120000+01'00'``) as ISO 8601; anything unparsable as it is."""
    text = json_value(value)
    match = _PDF_DATE.match(text) if isinstance(text, str) else None
    if match is None:
        return text
    parts = match.groupdict()
    try:
        moment = dt.datetime(
            int(parts["year"]),
            int(parts["month"] or 1),
            int(parts["day"] or 1),
            int(parts["hour"] or 0),
            int(parts["minute"] or 0),
            int(parts["second"] or 0),
            tzinfo=_pdf_zone(parts["zone"]),
        )
    except ValueError:
        return text
    return moment.isoformat()


def _pdf_zone(zone: str | None) -> dt.tzinfo | None:
    if not zone:
        return None
    if zone in ("Z", "z"):
        return dt.UTC
    digits = zone[1:].replace("'", "")
    hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
    offset = dt.timedelta(hours=hours, minutes=minutes)
    return dt.timezone(-offset if zone[0] == "-" else offset)
