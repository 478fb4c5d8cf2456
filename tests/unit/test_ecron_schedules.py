"""ecron schedules: fire times agree with croniter, DST behaviour, syntax, misfire decisions, templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter
from pydantic import ValidationError

from common.sharding import owner_of
from ecron.models import JobSpec, Misfire, MisfirePolicy, RetryPolicy
from ecron.plan import Plan, misfire_decision
from ecron.schedules import Schedule, cron_weekdays_to_names, fire_times, jitter_for, normalize
from ecron.templates import render

EXPRESSIONS = [
    "*/5 * * * *",
    "0 6 * * *",
    "30 2 * * 1-5",
    "15 9,17 * * mon,wed,fri",
    "0 0 1 * *",
    "0 12 * 1-6 *",
    "*/20 8-18 * * 1-5",
    "0 0 * * 0",
    "0 0 * * 7",
    "45 23 * * 5-6",
    "0 0 1,15 * 3",  # day of month OR day of week, as cron means it
    "@hourly",
    "@daily",
    "@weekly",
    "@monthly",
]
ZONES = ["UTC", "Asia/Seoul", "Europe/Paris", "America/New_York", "Australia/Sydney"]
START = datetime(2027, 1, 5, 0, 0)  # far from any DST change in these zones for the next weeks


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("expression", EXPRESSIONS)
def test_fire_times_agree_with_croniter(expression: str, zone: str) -> None:
    tz = ZoneInfo(zone)
    start = START.replace(tzinfo=tz)
    ours = [t.astimezone(tz) for t in fire_times([Schedule(cron=expression, timezone=zone)], start, 25)]
    reference = croniter(expression, start)
    expected = [reference.get_next(datetime) for _ in range(25)]
    assert ours == expected


def test_six_fields_put_seconds_first() -> None:
    start = datetime(2027, 1, 1, tzinfo=UTC)
    times = list(fire_times([Schedule(cron="*/15 * * * * *")], start, 4))
    assert times == [start + timedelta(seconds=s) for s in (15, 30, 45, 60)]


def test_weekday_numbers_follow_cron_not_apscheduler() -> None:
    assert cron_weekdays_to_names("1-5") == "mon,tue,wed,thu,fri"
    assert cron_weekdays_to_names("0,7") == "sun"
    assert cron_weekdays_to_names("sat-sun") == "sat,sun"
    assert cron_weekdays_to_names("*/2") == "sun,tue,thu,sat"


NEW_YORK = "America/New_York"


def preview(cron: str, start: datetime, count: int) -> list[str]:
    zone = ZoneInfo(NEW_YORK)
    return [normalize(t, zone).isoformat() for t in fire_times([Schedule(cron=cron, timezone=NEW_YORK)], start, count)]


def test_spring_forward_0230_fires_once_at_0330_daylight_time() -> None:
    start = datetime(2027, 3, 13, 12, 0, tzinfo=ZoneInfo(NEW_YORK))
    assert preview("30 2 * * *", start, 3) == [
        "2027-03-14T03:30:00-04:00",  # 02:30 does not exist that day: the slot fires an hour later on the clock
        "2027-03-15T02:30:00-04:00",
        "2027-03-16T02:30:00-04:00",
    ]


def test_spring_forward_does_not_double_a_slot_the_schedule_already_has() -> None:
    start = datetime(2027, 3, 14, 1, 0, tzinfo=ZoneInfo(NEW_YORK))
    assert preview("*/30 * * * *", start, 3) == [
        "2027-03-14T01:30:00-05:00",
        "2027-03-14T03:00:00-04:00",
        "2027-03-14T03:30:00-04:00",
    ]


def test_fall_back_repeated_hour_fires_at_both_occurrences() -> None:
    start = datetime(2027, 11, 6, 12, 0, tzinfo=ZoneInfo(NEW_YORK))
    assert preview("30 1 * * *", start, 3) == [
        "2027-11-07T01:30:00-04:00",
        "2027-11-07T01:30:00-05:00",  # the same wall time an hour later, in standard time
        "2027-11-08T01:30:00-05:00",
    ]


def test_several_schedules_merge_and_share_instants_once() -> None:
    weekdays = Schedule(cron="0 9 * * 1-5", timezone="Europe/Paris")
    weekends = Schedule(cron="0 11 * * 6,0", timezone="Europe/Paris")
    also_nine = Schedule(cron="0 9 * * 1", timezone="Europe/Paris")
    start = datetime(2027, 1, 4, 0, 0, tzinfo=ZoneInfo("Europe/Paris"))  # a Monday
    times = [t.astimezone(ZoneInfo("Europe/Paris")) for t in fire_times([weekdays, weekends, also_nine], start, 7)]
    assert [(t.strftime("%a"), t.hour) for t in times] == [
        ("Mon", 9),
        ("Tue", 9),
        ("Wed", 9),
        ("Thu", 9),
        ("Fri", 9),
        ("Sat", 11),
        ("Sun", 11),
    ]


def test_interval_at_start_and_end_dates() -> None:
    start = datetime(2027, 1, 1, tzinfo=UTC)
    every = Schedule(interval={"minutes": 10}, start_date=start, end_date=start + timedelta(minutes=25))
    assert list(fire_times([every], start - timedelta(seconds=1), 10)) == [
        start,
        start + timedelta(minutes=10),
        start + timedelta(minutes=20),
    ]
    once = Schedule(at=datetime(2027, 2, 1, 8, 0), timezone="Asia/Seoul")
    assert list(fire_times([once], start, 5)) == [datetime(2027, 1, 31, 23, 0, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ({"cron": "61 * * * *"}, "higher than the maximum"),
        ({"cron": "* * *"}, "has 3 fields"),
        ({"cron": "0 0 * * 9"}, "is not a weekday"),
        ({"cron": "0 0 * * *", "timezone": "Mars/Olympus"}, "unknown timezone"),
        ({"cron": "0 0 * * *", "interval": {"seconds": 5}}, "exactly one"),
        ({"interval": {"seconds": 0}}, "at least one second"),
        ({"cron": "0 0 * * *", "start_date": "2027-02-01T00:00:00", "end_date": "2027-01-01T00:00:00"}, "before"),
    ],
)
def test_invalid_schedules_give_the_parsers_reason(schedule: dict, reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        Schedule.model_validate(schedule)


def test_jitter_is_deterministic_and_bounded() -> None:
    schedules = [Schedule(cron="* * * * *", jitter_s=30)]
    slot = datetime(2027, 1, 1, 0, 1, tzinfo=UTC)
    values = {jitter_for(schedules, slot, "job-a") for _ in range(3)}
    assert len(values) == 1 and 0 <= values.pop() < 30
    assert jitter_for(schedules, slot, "job-a") != jitter_for(schedules, slot, "job-b")


def test_misfire_decisions() -> None:
    now = datetime(2027, 1, 1, 12, tzinfo=UTC)
    later = now + timedelta(seconds=30)
    earlier = now - timedelta(seconds=30)
    grace = 10.0
    assert misfire_decision(Misfire(policy=MisfirePolicy.skip, grace_s=grace), 5, later, now)[0] == "claimed"
    assert misfire_decision(Misfire(policy=MisfirePolicy.skip, grace_s=grace), 60, later, now)[0] == "missed"
    assert misfire_decision(Misfire(policy=MisfirePolicy.run_all, grace_s=grace), 60, earlier, now)[0] == "claimed"
    run_once = Misfire(policy=MisfirePolicy.run_once, grace_s=grace)
    assert misfire_decision(run_once, 60, earlier, now)[0] == "missed"  # a later slot is also due: coalesce
    assert misfire_decision(run_once, 60, later, now)[0] == "claimed"  # the most recent late slot fires


def test_retry_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=5, backoff_s=1, multiplier=3, max_backoff_s=5)
    assert [policy.delay_before(a) for a in (2, 3, 4)] == [1, 3, 5]


def test_templates_fill_nested_strings_and_leave_unknown_names() -> None:
    body = {"params": {"day": "{{scheduled_time}}", "ids": ["{{ job_id }}", 3]}, "keep": "{{other}}"}
    rendered = render(body, {"scheduled_time": "2027-01-01T00:00:00+00:00", "job_id": "j1"})
    assert rendered == {"params": {"day": "2027-01-01T00:00:00+00:00", "ids": ["j1", 3]}, "keep": "{{other}}"}


def test_rendezvous_owner_moves_few_jobs_when_a_node_joins() -> None:
    jobs = [f"job-{i}" for i in range(3000)]
    before = {job: owner_of(job, ("a", "b", "c")) for job in jobs}
    after = {job: owner_of(job, ("a", "b", "c", "d")) for job in jobs}
    moved = [job for job in jobs if before[job] != after[job]]
    assert all(after[job] == "d" for job in moved)
    assert 500 < len(moved) < 1000
    assert {before[job] for job in jobs} == {"a", "b", "c"}


def test_plan_pops_due_slots_in_order_and_drops_stale_revisions() -> None:
    plan = Plan()
    anchor = datetime(2027, 1, 1, tzinfo=UTC)
    document = {
        "_id": "j1",
        "state": "active",
        "revision": 1,
        "schedules": [{"cron": "* * * * * *"}],
        "anchor": anchor,
    }
    plan.put(document, start=anchor)
    due = plan.pop_due(anchor + timedelta(seconds=3))
    assert [slot.scheduled_time for slot, _, _ in due] == [anchor + timedelta(seconds=s) for s in (1, 2, 3)]
    plan.put({**document, "revision": 2, "schedules": [{"cron": "0 * * * *"}]}, start=anchor + timedelta(seconds=3))
    assert plan.next_fire_time() == anchor + timedelta(hours=1)


def test_job_spec_needs_one_schedule_form() -> None:
    action = {"type": "kafka", "topic": "t"}
    with pytest.raises(ValidationError, match="either 'schedule' or 'schedules'"):
        JobSpec.model_validate({"name": "x", "action": action})
    spec = JobSpec.model_validate(
        {"name": "x", "schedules": [{"cron": "@daily"}, {"at": "2030-01-01T00:00:00Z"}], "action": action}
    )
    assert len(spec.all_schedules()) == 2
