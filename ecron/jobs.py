"""Jobs in MongoDB and the change feed every node follows.

A job document holds its definition, a ``revision`` bumped on every change
and an ``anchor``: slots at or before the anchor never fire (it moves to
"now" on creation, on a schedule change and on resume, so a resumed job does
not replay what it missed while paused). Every change is also appended to a
short feed (``ecron_job_changes``) that the other nodes read to update their
in-memory plans; the node that served the request updates its own at once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import bson
from bson import Binary
from bson.codec_options import CodecOptions
from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from common.errors import NotFound
from common.pagination import PageQuery, list_page
from ecron.constants import CHANGES_COLLECTION, CHANGES_KEEP_S, CHANGES_OVERLAP_S, JOBS_COLLECTION
from ecron.models import Job, JobSpec, JobState
from ecron.schedules import Schedule, next_fire_after

TZ_AWARE: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)


def utcnow() -> datetime:
    return datetime.now(UTC)


def anchored_schedules(schedules: list[Schedule], now: datetime) -> list[Schedule]:
    """Intervals without a start date start one period from ``now`` (so every node agrees on their slots)."""
    anchored = []
    for schedule in schedules:
        if schedule.interval is not None and schedule.start_date is None:
            first = now + timedelta(seconds=schedule.interval.total_seconds())
            schedule = schedule.model_copy(update={"start_date": first.replace(microsecond=0)})
        anchored.append(schedule)
    return anchored


def job_from_document(document: dict[str, Any]) -> Job:
    return Job.model_validate({**document, "id": document["_id"]})


def job_document(job: Job) -> dict[str, Any]:
    document = job.model_dump(mode="json", exclude={"id"})
    for key in ("next_fire_at", "anchor", "created_at", "updated_at"):
        document[key] = getattr(job, key)
    document["_id"] = job.id
    return document


class JobStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[JOBS_COLLECTION]
        self.changes = db[CHANGES_COLLECTION]

    async def create(self, spec: JobSpec) -> Job:
        now = utcnow()
        job = self._build(uuid.uuid4().hex, spec, now, revision=1, created_at=now)
        await self.collection.insert_one(job_document(job))
        await self.record_change(job.id, job.revision, job_document(job))
        return job

    def _build(self, job_id: str, spec: JobSpec, now: datetime, *, revision: int, created_at: datetime) -> Job:
        schedules = anchored_schedules(spec.all_schedules(), now)
        next_fire = next_fire_after(schedules, now)
        state = JobState.paused if spec.paused else (JobState.active if next_fire else JobState.finished)
        return Job(
            id=job_id,
            name=spec.name,
            description=spec.description,
            schedules=schedules,
            action=spec.action,
            retry=spec.retry,
            max_concurrent=spec.max_concurrent,
            misfire=spec.misfire,
            labels=spec.labels,
            state=state,
            revision=revision,
            next_fire_at=next_fire,
            anchor=now,
            created_at=created_at,
            updated_at=now,
        )

    async def get(self, job_id: str) -> Job:
        document = await self.collection.find_one({"_id": job_id})
        if document is None:
            raise NotFound("job", job_id)
        return job_from_document(document)

    async def find_document(self, job_id: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": job_id})

    async def page(self, query: PageQuery, filters: dict[str, Any]) -> dict[str, Any]:
        return await list_page(self.collection, filters, query)

    async def replace(self, job_id: str, spec: JobSpec) -> Job:
        current = await self.get(job_id)
        now = utcnow()
        job = self._build(job_id, spec, now, revision=current.revision + 1, created_at=current.created_at)
        await self.collection.replace_one({"_id": job_id}, job_document(job))
        await self.record_change(job_id, job.revision, job_document(job))
        return job

    async def delete(self, job_id: str) -> None:
        result = await self.collection.delete_one({"_id": job_id})
        if result.deleted_count == 0:
            raise NotFound("job", job_id)
        await self.record_change(job_id, None)

    async def set_paused(self, job_id: str, paused: bool) -> Job:
        current = await self.get(job_id)
        now = utcnow()
        if paused:
            fields: dict[str, Any] = {"state": JobState.paused.value}
        else:
            next_fire = next_fire_after(current.schedules, now)
            fields = {
                "state": (JobState.active if next_fire else JobState.finished).value,
                "anchor": now,
                "next_fire_at": next_fire,
            }
        document = await self.collection.find_one_and_update(
            {"_id": job_id},
            {"$set": {**fields, "updated_at": now}, "$inc": {"revision": 1}},
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            raise NotFound("job", job_id)
        job = job_from_document(document)
        await self.record_change(job_id, job.revision, document)
        return job

    async def record_change(self, job_id: str, revision: int | None, document: dict[str, Any] | None = None) -> None:
        """Append to the feed, with the job's document so followers need no lookup (on FerretDB a lookup scans).

        The document travels as encoded BSON in one binary field: every node
        reads the feed twice a second and FerretDB's SQLite backend decodes
        every stored row on each read, which costs per field; a binary field
        is one field (with the job's forty, a bulk import of jobs made the
        reads the busiest thing in FerretDB).
        """
        packed = Binary(bson.encode(document)) if document is not None else None
        await self.changes.insert_one({"job_id": job_id, "revision": revision, "packed": packed, "at": utcnow()})

    async def changes_since(self, since: datetime) -> list[dict[str, Any]]:
        """Changes recorded since ``since``, each with its job's document under ``job`` (None for a deletion)."""
        changes = await self.changes.find({"at": {"$gte": since}}).to_list()
        for change in changes:
            packed = change.pop("packed", None)
            if packed is not None:
                change["job"] = bson.decode(packed, codec_options=TZ_AWARE)
        return changes

    async def prune_changes(self, read_by_all_until: datetime | None) -> None:
        """Delete the changes every live node has read (and any older than ``CHANGES_KEEP_S``).

        Each read of the feed scans all of it on FerretDB's SQLite backend, so
        it is kept as short as the slowest reader allows: while every node
        keeps up that is a few seconds of changes, even during a bulk import.
        """
        before = utcnow() - timedelta(seconds=CHANGES_KEEP_S)
        if read_by_all_until is not None:
            before = max(before, read_by_all_until - timedelta(seconds=CHANGES_OVERLAP_S * 2))
        await self.changes.delete_many({"at": {"$lt": before}})

    def all_documents(self) -> Any:
        """Every job, streamed (a node loads them once at startup)."""
        return self.collection.find({}, {"action": 0, "description": 0})
