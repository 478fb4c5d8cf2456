"""Cron expressions of flow triggers: checked on save, expanded into slots for backfills.

Fire times come from APScheduler's ``CronTrigger`` (the same parser ecron
uses), so a flow and its ecron job agree on every slot. Accepted: 5 fields
(minute hour day month weekday), 6 fields (seconds first), and the
``@yearly @monthly @weekly @daily @hourly`` shorthands.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger

SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


def cron_trigger(expression: str, timezone: str = "UTC") -> CronTrigger:
    """The trigger for ``expression`` in ``timezone``; ValueError with the parser's reason."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r} (use an IANA name such as 'Europe/Paris')") from None
    text = SHORTHANDS.get(expression.strip().lower(), expression.strip())
    fields = text.split()
    if len(fields) == 5:
        minute, hour, day, month, day_of_week = fields
        second = "0"
    elif len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
    else:
        raise ValueError(f"a cron expression has 5 or 6 fields, {expression!r} has {len(fields)}")
    try:
        # Standard cron numbers weekdays from Sunday=0; APScheduler from Monday=0.
        # Names are unambiguous, so numeric weekdays are translated first.
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_cron_weekdays(day_of_week),
            timezone=zone,
        )
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from None


_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _cron_weekdays(field: str) -> str:
    def name(token: str) -> str:
        return _WEEKDAY_NAMES[int(token)] if token.isdigit() and int(token) <= 7 else token

    parts = []
    for part in field.split(","):
        step = ""
        if "/" in part:
            part, step = part.split("/", 1)
            step = "/" + step
        if "-" in part:
            low, high = part.split("-", 1)
            parts.append(f"{name(low)}-{name(high)}{step}")
        else:
            parts.append(f"{name(part)}{step}")
    return ",".join(parts)


def slots(trigger: CronTrigger, start: datetime, end: datetime, *, limit: int) -> Iterator[datetime]:
    """Fire times of ``trigger`` with ``start <= t <= end``, at most ``limit`` of them."""
    previous = None
    moment = start - timedelta(microseconds=1)
    for _ in range(limit):
        fire = trigger.get_next_fire_time(previous, moment)
        if fire is None or fire > end:
            return
        if fire >= start:
            yield fire
        previous = fire
        moment = fire
