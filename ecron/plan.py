"""A node's in-memory plan: every job's next slot in one heap, earliest first.

Every node plans every job (a job is a few hundred bytes here: its schedules,
interned, and its policies), so "what is due next" is the top of a heap and
100,000 idle jobs cost nothing per tick. Which node *claims* a slot is decided
by rendezvous hashing over the live nodes (:func:`common.sharding.owner_of`); the claim itself
is made exactly-once by the store, never by the plan.

Entries are invalidated lazily: a changed or deleted job leaves stale heap
entries behind, which are recognised by their revision and dropped when they
surface.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from ecron.models import Misfire, MisfirePolicy
from ecron.schedules import Schedule, jitter_for, next_fire_after


@dataclass(frozen=True, slots=True)
class PlannedJob:
    job_id: str
    revision: int
    schedules: tuple[Schedule, ...]
    misfire: Misfire
    max_concurrent: int
    anchor: datetime


@dataclass(frozen=True, slots=True, order=True)
class Slot:
    fire_time: datetime
    scheduled_time: datetime
    job_id: str = field(compare=False)
    revision: int = field(compare=False)


class Plan:
    def __init__(self) -> None:
        self.jobs: dict[str, PlannedJob] = {}
        self._heap: list[tuple[datetime, int, Slot]] = []
        self._counter = 0
        self._interned: dict[str, Any] = {}
        self._next_cache: dict[tuple[tuple[Schedule, ...], datetime], datetime | None] = {}

    def __len__(self) -> int:
        return len(self.jobs)

    def _intern(self, model: Any, raw: Any) -> Any:
        """One validated, shared object per distinct stored value (100,000 jobs often share a few schedules)."""
        key = f"{model.__name__}:{json.dumps(raw, sort_keys=True, default=str)}"
        found = self._interned.get(key)
        if found is None:
            found = self._interned[key] = model.model_validate(raw)
        return found

    def _next_nominal(self, schedules: tuple[Schedule, ...], after: datetime) -> datetime | None:
        key = (schedules, after)
        if key not in self._next_cache:
            if len(self._next_cache) > 4096:
                self._next_cache.clear()
            self._next_cache[key] = next_fire_after(list(schedules), after)
        return self._next_cache[key]

    def put(self, document: dict[str, Any], *, start: datetime) -> PlannedJob | None:
        """Add or replace a job from its stored document; its first slot is the first after ``start``."""
        job_id = document["_id"]
        if document.get("state") != "active":
            self.jobs.pop(job_id, None)
            return None
        schedules = tuple(self._intern(Schedule, raw) for raw in document["schedules"])
        misfire = self._intern(Misfire, document.get("misfire") or {})
        planned = PlannedJob(
            job_id=job_id,
            revision=int(document["revision"]),
            schedules=schedules,
            misfire=misfire,
            max_concurrent=int(document.get("max_concurrent", 1)),
            anchor=document["anchor"],
        )
        self.jobs[job_id] = planned
        self._push_after(planned, max(start, planned.anchor))
        return planned

    def remove(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)

    def revision_of(self, job_id: str) -> int | None:
        planned = self.jobs.get(job_id)
        return planned.revision if planned else None

    def _push_after(self, planned: PlannedJob, after: datetime) -> datetime | None:
        nominal = self._next_nominal(planned.schedules, after)
        if nominal is None:
            return None
        jitter = jitter_for(list(planned.schedules), nominal, planned.job_id)
        slot = Slot(nominal + timedelta(seconds=jitter), nominal, planned.job_id, planned.revision)
        self._counter += 1
        heapq.heappush(self._heap, (slot.fire_time, self._counter, slot))
        return nominal

    def next_fire_time(self) -> datetime | None:
        while self._heap:
            slot = self._heap[0][2]
            if self.revision_of(slot.job_id) == slot.revision:
                return slot.fire_time
            heapq.heappop(self._heap)
        return None

    def pop_due(self, until: datetime, limit: int = 5000) -> list[tuple[Slot, PlannedJob, datetime | None]]:
        """Slots firing at or before ``until``: each with its job and the job's following slot."""
        due = []
        while self._heap and self._heap[0][0] <= until and len(due) < limit:
            slot = heapq.heappop(self._heap)[2]
            planned = self.jobs.get(slot.job_id)
            if planned is None or planned.revision != slot.revision:
                continue
            following = self._push_after(planned, slot.scheduled_time)
            due.append((slot, planned, following))
        return due


def misfire_decision(
    misfire: Misfire, lateness_s: float, following: datetime | None, now: datetime
) -> tuple[str, str | None]:
    """Whether a slot ``lateness_s`` late fires: ``("claimed", None)`` or ``("missed", reason)``.

    Within the grace time every slot fires. Beyond it: ``run_all`` fires it;
    ``run_once`` fires it only if it is the most recent late slot (the job's
    following slot is not due yet); ``skip`` fires none.
    """
    if lateness_s <= misfire.grace_s:
        return "claimed", None
    late = f"{lateness_s:.1f}s late (grace {misfire.grace_s:g}s)"
    if misfire.policy == MisfirePolicy.run_all:
        return "claimed", f"{late}; fired by policy run_all"
    if misfire.policy == MisfirePolicy.run_once and (following is None or following > now):
        return "claimed", f"{late}; fired once by policy run_once"
    return "missed", f"{late}; not fired by policy {misfire.policy.value}"
