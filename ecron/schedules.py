"""Schedules and their fire times, computed with APScheduler 3's triggers.

A schedule is one of a cron expression, an interval or a one-shot ``at``
time, with an IANA timezone, optional start and end dates and an optional
jitter. A job may carry several schedules; its fire times are the union of
theirs (an instant two schedules share fires once).

Cron syntax (see ``ecron/README.md``): five fields (minute hour day month
day-of-week) or six with seconds first, the ``@hourly``-style aliases, and
APScheduler's extras (``last`` and ``2nd fri`` in the day field, names of
months and weekdays). Two places where APScheduler differs from cron are
bridged here so expressions mean what a crontab user expects: day-of-week
numbers follow cron (0 and 7 are Sunday, not Monday), and when both day of
month and day of week are restricted a time matching either fires (Vixie
cron's OR; APScheduler alone would require both).

Fire times are "nominal" slot times; jitter is a deterministic offset per
(job, slot), so every node computes the same instant for the same slot.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
CRON_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MAX_JITTER_S = 3600.0


class InvalidSchedule(ValueError):
    """A schedule the parser rejects; the message is the parser's reason."""


class Interval(BaseModel):
    """A fixed period; the fields add up (``{"hours": 1, "minutes": 30}``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    weeks: int = Field(0, ge=0)
    days: int = Field(0, ge=0)
    hours: int = Field(0, ge=0)
    minutes: int = Field(0, ge=0)
    seconds: float = Field(0, ge=0)

    @model_validator(mode="after")
    def _positive(self) -> Interval:
        if self.total_seconds() < 1:
            raise ValueError("an interval must be at least one second long")
        return self

    def total_seconds(self) -> float:
        return timedelta(
            weeks=self.weeks, days=self.days, hours=self.hours, minutes=self.minutes, seconds=self.seconds
        ).total_seconds()


class Schedule(BaseModel):
    """When a job fires: exactly one of ``cron``, ``interval`` or ``at``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: str | None = Field(
        None,
        description="5 fields (min hour day month dow), 6 with seconds first, or @hourly/@daily/...",
        examples=["0 6 * * *"],
    )
    interval: Interval | None = Field(None, description="a fixed period, anchored at start_date")
    at: datetime | None = Field(None, description="a single fire time (naive times are in `timezone`)")
    timezone: str = Field("UTC", description="IANA name; cron fields and naive dates are read in it")
    start_date: datetime | None = Field(None, description="no fire time before this (naive: in `timezone`)")
    end_date: datetime | None = Field(None, description="no fire time after this (naive: in `timezone`)")
    jitter_s: float = Field(0, ge=0, le=MAX_JITTER_S, description="a per-slot delay in [0, jitter_s) seconds")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone_of(value)
        return value

    @model_validator(mode="after")
    def _one_kind(self) -> Schedule:
        kinds = [name for name in ("cron", "interval", "at") if getattr(self, name) is not None]
        if len(kinds) != 1:
            raise ValueError(f"a schedule needs exactly one of 'cron', 'interval' or 'at' (got {kinds or 'none'})")
        if self.start_date and self.end_date and self.localize(self.end_date) < self.localize(self.start_date):
            raise ValueError("end_date is before start_date")
        build_trigger(self)  # the parser's reason becomes the validation message
        return self

    def localize(self, value: datetime) -> datetime:
        zone = zone_of(self.timezone)
        return value.replace(tzinfo=zone) if value.tzinfo is None else value.astimezone(zone)


def zone_of(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSchedule(f"unknown timezone {name!r}; use an IANA name such as 'Europe/Paris'") from exc


class Trigger(Protocol):
    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None: ...


@dataclass(frozen=True)
class WallClockCron:
    """A cron trigger evaluated on wall-clock time, then placed in the timezone.

    APScheduler 3.11's CronTrigger adds wall-clock differences in UTC, which
    skips slots when a month boundary is crossed together with a DST change
    (``0 0 1 * *`` in Europe/Paris jumps from March 1 to May 1). So the
    expression runs on naive wall time (as UTC, which has no DST) and each wall
    time is mapped to its instants: a time in a spring-forward gap fires at the
    same distance past the transition (02:30 becomes 03:30 daylight time), a
    time in a repeated fall-back hour fires at both occurrences, and two wall
    times that land on one instant fire once. This is what APScheduler intends
    and what its documentation describes.
    """

    wall: Trigger
    zone: ZoneInfo
    start: datetime | None
    end: datetime | None

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # Compared in UTC: aware datetimes sharing a tzinfo compare by wall time, ignoring fold.
        earliest = (max(now, self.start) if self.start else now).astimezone(UTC)
        shift = self._dst_shift_near(earliest)
        # Away from a DST change the first wall time at or after now is the answer. Near one, a
        # slightly earlier wall time may map to a later instant (a gap, or the second pass of a
        # repeated hour), so wall times from one shift back are considered, up to one shift on.
        wall_from = earliest.astimezone(self.zone).replace(tzinfo=None) - shift
        cursor: datetime | None = wall_from.replace(tzinfo=UTC)
        best: datetime | None = None
        while cursor is not None:
            wall = self.wall.get_next_fire_time(None, cursor)
            if wall is None:
                break
            naive = wall.replace(tzinfo=None)
            for instant in self._instants(naive):
                instant = instant.astimezone(UTC)
                if instant >= earliest and (best is None or instant < best):
                    best = instant
            if best is not None and naive >= best.astimezone(self.zone).replace(tzinfo=None) + shift:
                break
            cursor = wall + timedelta(microseconds=1)
        if best is None or (self.end is not None and best > self.end):
            return None
        return best

    def _dst_shift_near(self, moment: datetime) -> timedelta:
        """The size of a UTC offset change within three hours of ``moment`` (zero when there is none)."""
        before = (moment - timedelta(hours=3)).astimezone(self.zone).utcoffset() or timedelta(0)
        after = (moment + timedelta(hours=3)).astimezone(self.zone).utcoffset() or timedelta(0)
        return abs(after - before)

    def _instants(self, naive: datetime) -> list[datetime]:
        """The real instants of a wall time: two in a repeated hour, one (shifted) in a gap."""
        real = [
            instant
            for fold in (0, 1)
            if (instant := normalize(naive.replace(tzinfo=self.zone, fold=fold), self.zone)).replace(tzinfo=None)
            == naive
        ]
        return real or [normalize(naive.replace(tzinfo=self.zone, fold=0), self.zone)]


@dataclass(frozen=True)
class AnyOf:
    """The union of several triggers: the earliest next fire time of any of them."""

    triggers: tuple[Trigger, ...]

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        times = [t.get_next_fire_time(previous_fire_time, now) for t in self.triggers]
        present = [t for t in times if t is not None]
        return min(present, key=lambda t: t.astimezone(UTC)) if present else None


def _cron_fields(expression: str) -> dict[str, str]:
    text = ALIASES.get(expression.strip().lower(), expression.strip())
    parts = text.split()
    if len(parts) == 5:
        second, (minute, hour, day, month, day_of_week) = "0", parts
    elif len(parts) == 6:
        second, minute, hour, day, month, day_of_week = parts
    else:
        raise InvalidSchedule(
            f"cron expression {expression!r} has {len(parts)} fields; use 5 (minute hour day month day-of-week), "
            "6 (second first) or an alias such as @daily"
        )
    day = "*" if day == "?" else day
    day_of_week = "*" if day_of_week == "?" else day_of_week
    return {
        "second": second,
        "minute": minute,
        "hour": hour,
        "day": day,
        "month": month,
        "day_of_week": cron_weekdays_to_names(day_of_week),
    }


def cron_weekdays_to_names(field: str) -> str:
    """A cron day-of-week field (0 or 7 = Sunday) as APScheduler weekday names.

    Numbers, numeric ranges and steps are expanded to explicit names, since
    APScheduler numbers weekdays from Monday. Names and name ranges are also
    expanded, so ``sat-sun`` wraps as in cron. ``*`` stays ``*``.
    """
    if field == "*":
        return field
    names: list[str] = []
    for token in field.lower().split(","):
        days = _weekday_token(token, field)
        names.extend(d for d in days if d not in names)
    return ",".join(names)


def _weekday_number(text: str, field: str) -> int:
    if text in CRON_WEEKDAYS:
        return CRON_WEEKDAYS.index(text)
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text) % 7 if int(text) != 7 else 7
    raise InvalidSchedule(f"day-of-week {field!r}: {text!r} is not a weekday (0-7 or sun..sat)")


def _weekday_token(token: str, field: str) -> list[str]:
    base, _, step_text = token.partition("/")
    step = 1
    if step_text:
        if not step_text.isdigit() or int(step_text) < 1:
            raise InvalidSchedule(f"day-of-week {field!r}: step {step_text!r} must be a positive number")
        step = int(step_text)
    if base == "*":
        first, last = 0, 6
    elif "-" in base:
        start_text, _, end_text = base.partition("-")
        first, last = _weekday_number(start_text, field), _weekday_number(end_text, field)
        if last < first:
            last += 7  # sat-sun wraps around the week
    else:
        first = _weekday_number(base, field)
        last = 6 if step_text else first
    return [CRON_WEEKDAYS[day % 7] for day in range(first, last + 1, step)]


def build_trigger(schedule: Schedule) -> Trigger:
    """The APScheduler trigger of one schedule (jitter is applied by :func:`fire_times`, not here)."""
    zone = zone_of(schedule.timezone)
    start = schedule.localize(schedule.start_date) if schedule.start_date else None
    end = schedule.localize(schedule.end_date) if schedule.end_date else None
    try:
        if schedule.cron is not None:
            fields = _cron_fields(schedule.cron)
            wall: Trigger = CronTrigger(**fields, timezone=UTC)
            if fields["day"] != "*" and fields["day_of_week"] != "*":
                wall = AnyOf(
                    (
                        CronTrigger(**{**fields, "day_of_week": "*"}, timezone=UTC),
                        CronTrigger(**{**fields, "day": "*"}, timezone=UTC),
                    )
                )
            return WallClockCron(wall, zone, start, end)
        if schedule.interval is not None:
            interval = schedule.interval
            return IntervalTrigger(
                weeks=interval.weeks,
                days=interval.days,
                hours=interval.hours,
                minutes=interval.minutes,
                seconds=interval.seconds,
                start_date=start or datetime(2000, 1, 1, tzinfo=zone),
                end_date=end,
                timezone=zone,
            )
        assert schedule.at is not None
        return DateTrigger(run_date=schedule.localize(schedule.at), timezone=zone)
    except InvalidSchedule:
        raise
    except (ValueError, TypeError, KeyError) as exc:
        raise InvalidSchedule(str(exc) or type(exc).__name__) from exc


def normalize(moment: datetime, zone: ZoneInfo) -> datetime:
    """``moment`` as a real wall time in ``zone`` (a nonexistent 02:30 becomes 03:30 with the new offset)."""
    return moment.astimezone(UTC).astimezone(zone)


def next_fire_after(schedules: list[Schedule], after: datetime, *, inclusive: bool = False) -> datetime | None:
    """The earliest nominal fire time of any schedule strictly after ``after`` (or at it, if inclusive), in UTC."""
    best: datetime | None = None
    for schedule in schedules:
        candidate = _next_of(schedule, after, inclusive)
        if candidate is not None and (best is None or candidate < best):
            best = candidate
    return best


@functools.lru_cache(maxsize=8192)
def cached_trigger(schedule: Schedule) -> Trigger:
    """Triggers are immutable, and parsing a cron expression costs far more than asking it for a time."""
    return build_trigger(schedule)


def _next_of(schedule: Schedule, after: datetime, inclusive: bool) -> datetime | None:
    trigger = cached_trigger(schedule)
    zone = zone_of(schedule.timezone)
    if isinstance(trigger, DateTrigger):
        run_date = trigger.run_date.astimezone(UTC)
        return run_date if run_date > after or (inclusive and run_date == after) else None
    # Arithmetic in UTC: adding to a zoned time in a repeated hour would lose its fold.
    start = (after.astimezone(UTC) + timedelta(microseconds=0 if inclusive else 1)).astimezone(zone)
    found = trigger.get_next_fire_time(None, start)
    return found.astimezone(UTC) if found is not None else None


def fire_times(schedules: list[Schedule], after: datetime, count: int) -> Iterator[datetime]:
    """Up to ``count`` nominal fire times after ``after``, in UTC, earliest first."""
    moment = after
    for _ in range(count):
        found = next_fire_after(schedules, moment)
        if found is None:
            return
        yield found
        moment = found


def jitter_for(schedules: list[Schedule], nominal: datetime, job_id: str) -> float:
    """The deterministic jitter of one slot: the largest jitter of the schedules that fire at ``nominal``."""
    jitter = max((s.jitter_s for s in schedules if s.jitter_s and _fires_at(s, nominal)), default=0.0)
    if not jitter:
        return 0.0
    digest = hashlib.sha256(f"{job_id}|{nominal.isoformat()}".encode()).digest()
    return jitter * int.from_bytes(digest[:8], "big") / 2**64


def _fires_at(schedule: Schedule, nominal: datetime) -> bool:
    return _next_of(schedule, nominal, inclusive=True) == nominal


def display_zone(schedules: list[Schedule]) -> ZoneInfo:
    return zone_of(schedules[0].timezone) if schedules else ZoneInfo("UTC")
