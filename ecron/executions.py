"""Execution records: the exactly-once claim of a slot and, later, its outcome.

The ``_id`` of a scheduled execution is ``<job id>@<slot time in UTC>``, so
inserting it *is* the claim: the unique ``_id`` lets exactly one node win a
slot, whatever the number of nodes, with no transaction. Manual runs get
``<job id>@<now>~run-<random>``. Ids sort by time within a job.

Both records are insert-only: the claim when the slot is taken, the outcome
(same ``_id``, in a second collection) when the execution ends. Nothing on
the firing path updates or looks up a document in a collection that grows
with history; that matters on FerretDB's SQLite backend, where any lookup
other than an insert scans the collection. Outcomes are queued and inserted
in batches, and kept through a MongoDB outage until they can be written.
The state of an execution is derived: its outcome if there is one, else
``claimed`` before its fire time and ``running`` after.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from common.errors import NotFound
from common.mongo import TRANSIENT_MONGO_ERRORS
from common.pagination import PageQuery, find_page
from ecron.constants import EXECUTIONS_COLLECTION, OUTCOMES_COLLECTION

log = logging.getLogger(__name__)

DUPLICATE_KEY = 11000


SLOT_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # a slot's time inside an execution id, in UTC


def slot_time_text(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(SLOT_TIME_FORMAT)


def slot_execution_id(job_id: str, scheduled_time: datetime) -> str:
    return f"{job_id}@{slot_time_text(scheduled_time)}"


def parse_slot_execution_id(execution_id: str) -> tuple[str, datetime] | None:
    """``(job id, slot time)`` of a scheduled execution's id; None for a manual run's."""
    job_id, _, slot = execution_id.rpartition("@")
    if not job_id or "~" in slot:
        return None
    try:
        return job_id, datetime.strptime(slot, SLOT_TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def manual_execution_id(job_id: str, now: datetime) -> str:
    return f"{job_id}@{slot_time_text(now)}~run-{uuid.uuid4().hex[:8]}"


def execution_view(claim: dict[str, Any], outcome: dict[str, Any] | None, now: datetime) -> dict[str, Any]:
    view = {key: value for key, value in claim.items() if key != "_id"}
    view["id"] = claim["_id"]
    if outcome is not None:
        view.update({key: value for key, value in outcome.items() if key != "_id"})
    elif view.get("status") == "claimed" and view["fire_time"] <= now:
        view["status"] = "running"
    return view


async def insert_ignoring_duplicates(collection: Any, documents: list[dict[str, Any]]) -> set[str]:
    """Insert documents; returns the ids inserted (documents whose ``_id`` existed are left out)."""
    if not documents:
        return set()
    try:
        await collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(error.get("code") != DUPLICATE_KEY for error in errors):
            raise
        lost = {documents[error["index"]]["_id"] for error in errors}
        return {document["_id"] for document in documents} - lost
    return {document["_id"] for document in documents}


class ExecutionStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.claims = db[EXECUTIONS_COLLECTION]
        self.outcomes = db[OUTCOMES_COLLECTION]

    async def claim(self, documents: list[dict[str, Any]]) -> set[str]:
        """Insert claim documents; returns the ids this call won (the others were claimed before)."""
        return await insert_ignoring_duplicates(self.claims, documents)

    async def get(self, execution_id: str) -> dict[str, Any]:
        claim = await self.claims.find_one({"_id": execution_id})
        if claim is None:
            raise NotFound("execution", execution_id)
        outcome = await self.outcomes.find_one({"_id": execution_id})
        return execution_view(claim, outcome, datetime.now(UTC))

    async def unfinished(self, execution_ids: list[str]) -> list[dict[str, Any]]:
        """The claims among ``execution_ids`` that have no outcome yet (two queries, whatever the count)."""
        if not execution_ids:
            return []
        finished = {d["_id"] async for d in self.outcomes.find({"_id": {"$in": execution_ids}}, {"_id": 1})}
        pending = [i for i in execution_ids if i not in finished]
        if not pending:
            return []
        return await self.claims.find({"_id": {"$in": pending}}).to_list()

    async def page_for_job(self, job_id: str, page: PageQuery) -> dict[str, Any]:
        claims, next_cursor = await find_page(self.claims, {"job_id": job_id}, limit=page.limit, cursor=page.cursor)
        ids = [claim["_id"] for claim in claims]
        outcomes = {d["_id"]: d async for d in self.outcomes.find({"_id": {"$in": ids}})} if ids else {}
        now = datetime.now(UTC)
        return {
            "items": [execution_view(claim, outcomes.get(claim["_id"]), now) for claim in claims],
            "next_cursor": next_cursor,
        }

    async def delete_for_job(self, job_id: str) -> None:
        await self.claims.delete_many({"job_id": job_id})
        await self.outcomes.delete_many({"job_id": job_id})

    async def prune(self, older_than: datetime) -> None:
        await self.claims.delete_many({"claimed_at": {"$lt": older_than}})
        await self.outcomes.delete_many({"finished_at": {"$lt": older_than}})


class OutcomeWriter:
    """Queues outcomes and inserts them in batches; keeps them through a MongoDB outage."""

    def __init__(self, store: ExecutionStore, interval_s: float = 0.05) -> None:
        self.store = store
        self.interval_s = interval_s
        self._pending: dict[str, dict[str, Any]] = {}
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.on_written: Any = lambda ids: None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def record(self, outcome: dict[str, Any]) -> None:
        self._pending[outcome["_id"]] = outcome
        self._idle.clear()
        self._wake.set()

    async def flush(self, timeout_s: float = 10.0) -> None:
        self._wake.set()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout_s)
        except TimeoutError:
            log.warning("%d execution outcomes could not be written before shutdown", len(self._pending))

    async def stop(self) -> None:
        await self.flush()
        if self._task is not None:
            self._task.cancel()

    async def _run(self) -> None:
        delay = self.interval_s
        while True:
            await self._wake.wait()
            await asyncio.sleep(delay)
            self._wake.clear()
            batch, self._pending = self._pending, {}
            if batch:
                try:
                    await insert_ignoring_duplicates(self.store.outcomes, list(batch.values()))
                    delay = self.interval_s
                    self.on_written(list(batch))
                except TRANSIENT_MONGO_ERRORS as exc:
                    self._pending = {**batch, **self._pending}
                    delay = min(max(delay * 2, 0.2), 5.0)
                    log.warning("execution outcomes wait for MongoDB (%d queued): %s", len(self._pending), exc)
            if self._pending:
                self._wake.set()
            else:
                self._idle.set()
