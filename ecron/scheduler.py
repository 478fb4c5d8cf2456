"""The scheduler every ecron node runs inside its service process.

Three loops share one asyncio event loop with the API:

- the **plan loop** sleeps until the earliest slot is ``lookahead_s`` away,
  takes every slot due by then off the plan and claims the ones this node
  owns (rendezvous hashing over the live nodes) by inserting their execution
  documents in one batch; each won slot then waits for its exact fire time
  and runs its action (:mod:`ecron.runner`). Slots owned by others are kept
  for a while in case their owner turns out to be dead;
- the **membership loop** renews this node's lease, reads the other nodes,
  takes over the executions of any whose lease ran out, and re-checks the
  recent slots of the jobs it now owns whenever membership changes;
- the **change loop** follows the job change feed written by the API of any node.

Exactly-once comes from the store (the unique execution ``_id``), never from
timing. The lease fences a node off: it fires nothing while its own lease is
not known to be valid. After an outage of MongoDB every node waits one full
lease before taking anything over, so executions held through the outage
are finished by their holders, not run twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from common.mongo import TRANSIENT_MONGO_ERRORS
from common.sharding import owner_of
from ecron.constants import PROGRESS_ID, STATE_COLLECTION
from ecron.executions import ExecutionStore, OutcomeWriter, manual_execution_id, slot_execution_id
from ecron.jobs import JobStore
from ecron.nodes import NodeRegistry
from ecron.plan import Plan, PlannedJob, Slot, misfire_decision
from ecron.runner import ExecutionRunner
from ecron.settings import EcronSettings

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Scheduler:
    def __init__(
        self,
        *,
        db: AsyncDatabase,
        jobs: JobStore,
        executions: ExecutionStore,
        nodes: NodeRegistry,
        runner: ExecutionRunner,
        settings: EcronSettings,
    ) -> None:
        self.db = db
        self.jobs = jobs
        self.executions = executions
        self.nodes = nodes
        self.runner = runner
        self.settings = settings
        self.node_id = nodes.node_id
        self.writer: OutcomeWriter = runner.writer
        self.plan = Plan()
        self.view: tuple[str, ...] = (self.node_id,)
        self._owners: dict[str, str | None] = {}
        self._foreign: deque[tuple[Slot, PlannedJob]] = deque()
        self._unclaimed: list[tuple[Slot, PlannedJob, datetime | None]] = []
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._changes_seen: dict[Any, datetime] = {}
        self._changes_since = utcnow()
        self._lease_valid_until = 0.0
        self._takeover_blocked_until = 0.0
        self._last_prune = 0.0
        self._ambiguous: set[str] = set()
        self._last_progress = 0.0
        self.stopping = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the cluster and load every job (called once MongoDB answers)."""
        await self.nodes.register([])
        self._lease_valid_until = time.monotonic() + self.settings.lease_s - 0.25
        self._takeover_blocked_until = time.monotonic() + self.settings.heartbeat_s
        await self._refresh_membership()
        self._changes_since = utcnow() - timedelta(seconds=1)
        loop = asyncio.get_running_loop()
        self.writer.start()
        self.runner.lease_ok = self.lease_ok
        # Heartbeats start first and the plan loads in the background: loading 100,000 jobs takes a
        # while, and the API (readiness) need not wait for it; slots that come due meanwhile are
        # picked up when it is done, under the misfire policy.
        self._tasks = [
            loop.create_task(self._forever(self._membership_step, "membership")),
            loop.create_task(self._load_then_schedule()),
        ]

    async def _load_then_schedule(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._load_all_jobs()
                break
            except TRANSIENT_MONGO_ERRORS as exc:
                log.warning("loading the plan waits for MongoDB: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
        loop = asyncio.get_running_loop()
        self._tasks += [
            loop.create_task(self._forever(self._plan_step, "plan")),
            loop.create_task(self._forever(self._changes_step, "changes")),
        ]

    async def stop(self) -> None:
        self.stopping = True
        for task in self._tasks:
            task.cancel()
        await self.runner.drain(self.settings.shutdown_wait_s)
        await self.writer.stop()
        with contextlib.suppress(*TRANSIENT_MONGO_ERRORS):
            if self.runner.held:
                await self.nodes.heartbeat(sorted(self.runner.held))
                await self.nodes.release()
            else:
                await self.nodes.deregister()
        await self.runner.close()

    async def _forever(self, step: Any, name: str) -> None:
        delay = 0.2
        while True:
            try:
                wait = await step()
                delay = 0.2
            except TRANSIENT_MONGO_ERRORS as exc:
                log.warning("%s loop waits for MongoDB: %s", name, exc)
                self._takeover_blocked_until = time.monotonic() + 3600  # until membership succeeds again
                wait = delay
                delay = min(delay * 2, 5.0)
            except Exception:
                log.exception("%s loop failed; continuing", name)
                wait = 1.0
            if name != "plan":
                await asyncio.sleep(wait)
                continue
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()

    def lease_ok(self) -> bool:
        return time.monotonic() < self._lease_valid_until

    # -- jobs -----------------------------------------------------------------------------

    async def _load_all_jobs(self) -> None:
        progress = await self.db[STATE_COLLECTION].find_one({"_id": PROGRESS_ID})
        now = utcnow()
        start = now
        if progress and progress.get("at"):
            start = min(now, progress["at"] - timedelta(seconds=self.settings.rescue_window_s))
        count = 0
        async for document in self.jobs.all_documents():
            self.plan.put(document, start=start)
            count += 1
            if count % 2000 == 0:
                await asyncio.sleep(0)  # let heartbeats and API calls through while a large plan loads
        log.info("plan loaded", extra={"jobs": count, "catch_up_from": start.isoformat()})
        self._wake.set()

    def apply_job(self, document: dict[str, Any] | None, job_id: str) -> None:
        """Bring the plan up to date with a job's stored document (None: deleted)."""
        self.runner.forget_job(job_id)
        if document is not None and "action" in document:
            self.runner.remember_job(document)
        if document is None:
            self.plan.remove(job_id)
        elif self.plan.revision_of(job_id) != document["revision"]:
            self.plan.put(document, start=document["anchor"])
        self._wake.set()

    async def _changes_step(self) -> float:
        since = self._changes_since
        self._changes_since = utcnow()
        changes = await self.jobs.changes_since(since - timedelta(seconds=5))
        for change in changes:
            if change["_id"] in self._changes_seen:
                continue
            self._changes_seen[change["_id"]] = change["at"]
            revision = change.get("revision")
            if revision is not None and (self.plan.revision_of(change["job_id"]) or 0) >= revision:
                continue
            document = change.get("job") if revision is not None else None
            if revision is not None and document is None:
                document = await self.jobs.find_document(change["job_id"])
            self.apply_job(document, change["job_id"])
        horizon = utcnow() - timedelta(seconds=30)
        self._changes_seen = {key: at for key, at in self._changes_seen.items() if at > horizon}
        return self.settings.changes_poll_s

    # -- the plan loop ----------------------------------------------------------------------

    def owner(self, job_id: str) -> str | None:
        if job_id not in self._owners:
            self._owners[job_id] = owner_of(job_id, self.view)
        return self._owners[job_id]

    async def _plan_step(self) -> float:
        now = utcnow()
        mine: list[tuple[Slot, PlannedJob, datetime | None]] = self._unclaimed
        self._unclaimed = []
        for slot, planned, following in self.plan.pop_due(now + timedelta(seconds=self.settings.lookahead_s)):
            if self.owner(slot.job_id) == self.node_id:
                mine.append((slot, planned, following))
            else:
                self._foreign.append((slot, planned))
        self._trim_foreign(now)
        if mine:
            try:
                await self._claim(mine)
            except BaseException:
                self._unclaimed = mine + self._unclaimed
                raise
        upcoming = self.plan.next_fire_time()
        if upcoming is None:
            return 1.0
        until = (upcoming - utcnow()).total_seconds() - self.settings.lookahead_s
        return min(max(until, 0.0), 1.0)

    def _trim_foreign(self, now: datetime) -> None:
        horizon = now - timedelta(seconds=self.settings.rescue_window_s)
        while self._foreign and self._foreign[0][0].fire_time < horizon:
            self._foreign.popleft()

    async def _claim(self, slots: list[tuple[Slot, PlannedJob, datetime | None]]) -> None:
        now = utcnow()
        documents = []
        for slot, planned, following in slots:
            lateness = (now - slot.fire_time).total_seconds()
            status, reason = misfire_decision(planned.misfire, lateness, following, now)
            documents.append(
                {
                    "_id": slot_execution_id(slot.job_id, slot.scheduled_time),
                    "job_id": slot.job_id,
                    "trigger": "schedule",
                    "scheduled_time": slot.scheduled_time,
                    "fire_time": slot.fire_time,
                    "status": status,
                    "node": self.node_id,
                    "attempt": 0,
                    "takeovers": 0,
                    "misfire": reason,
                    "claimed_at": now,
                    **({"finished_at": now} if status == "missed" else {}),
                }
            )
        active_ids = [d["_id"] for d in documents if d["status"] == "claimed"]
        self.runner.hold(active_ids)
        try:
            await self.nodes.add_active(active_ids)
            won = await self.executions.claim(documents)
        except BaseException:
            self.runner.release(active_ids)
            self._ambiguous.update(d["_id"] for d in documents)  # the insert may have reached MongoDB
            raise
        self.runner.release([i for i in active_ids if i not in won])
        by_id = {slot_execution_id(s.job_id, s.scheduled_time): planned for s, planned, _ in slots}
        for document in documents:
            if document["_id"] in won and document["status"] == "claimed":
                self.runner.start(document, by_id[document["_id"]].max_concurrent)
        lost = [d["_id"] for d in documents if d["_id"] not in won and d["_id"] in self._ambiguous]
        self._ambiguous.difference_update(d["_id"] for d in documents)
        await self._resume_own_claims(lost, by_id)

    async def _resume_own_claims(self, execution_ids: list[str], by_id: dict[str, PlannedJob]) -> None:
        """Start claims that exist already but are ours and unfinished.

        That happens when an insert reached MongoDB but its answer was lost with
        the connection: the retry finds the slot taken, by this very node. Only
        ids whose earlier claim attempt failed are checked, so the common case
        (a slot another node claimed) costs no query.
        """
        if not execution_ids:
            return
        for claim in await self.executions.unfinished(execution_ids):
            if (
                claim.get("node") == self.node_id
                and claim.get("status") == "claimed"
                and not self.runner.knows(claim["_id"])
            ):
                self.runner.hold([claim["_id"]])
                await self.nodes.add_active([claim["_id"]])
                self.runner.start(claim, by_id[claim["_id"]].max_concurrent)

    # -- membership ---------------------------------------------------------------------------

    async def _membership_step(self) -> float:
        started = time.monotonic()
        if self._takeover_blocked_until > started + self.settings.lease_s * 2:
            # Coming back from an outage: everyone missed heartbeats, so wait a full lease before judging others.
            self._takeover_blocked_until = started + self.settings.lease_s + self.settings.heartbeat_s
        alive = await self.nodes.heartbeat(sorted(self.runner.held))
        if not alive:
            log.warning("this node's lease was taken over by another node; dropping what it held")
            self.runner.drop_all()
            await self.nodes.register([])
        self._lease_valid_until = started + self.settings.lease_s - 0.25
        await self._refresh_membership()
        if started - self._last_progress > 10:
            self._last_progress = started
            await self.db[STATE_COLLECTION].update_one(
                {"_id": PROGRESS_ID}, {"$max": {"at": utcnow() - timedelta(seconds=1)}}, upsert=True
            )
        if started - self._last_prune > 60:
            self._last_prune = started
            await self.jobs.prune_changes()
            await self.executions.prune(utcnow() - timedelta(days=self.settings.history_days))
        return self.settings.heartbeat_s

    async def _refresh_membership(self) -> None:
        now = utcnow()
        documents = await self.nodes.all()
        alive = tuple(sorted({d["_id"] for d in documents if d["lease_expires_at"] > now} | {self.node_id}))
        if time.monotonic() >= self._takeover_blocked_until:
            for document in documents:
                if document["lease_expires_at"] <= now and document["_id"] != self.node_id:
                    await self._take_over(document)
        if alive != self.view:
            log.info("membership changed", extra={"nodes": list(alive)})
            self.view = alive
            self._owners.clear()
            await self._rescue_recent()

    async def _rescue_recent(self) -> None:
        """Claim recent slots that were someone else's and are now ours (their owner died or membership moved)."""
        keep: deque[tuple[Slot, PlannedJob]] = deque()
        rescue = []
        for slot, planned in self._foreign:
            if self.owner(slot.job_id) == self.node_id and self.plan.revision_of(slot.job_id) == slot.revision:
                rescue.append((slot, planned, None))
            else:
                keep.append((slot, planned))
        self._foreign = keep
        if rescue:
            log.info("re-checking recent slots after a membership change", extra={"slots": len(rescue)})
            self._unclaimed.extend(rescue)
            self._wake.set()

    async def _take_over(self, document: dict[str, Any]) -> None:
        dead = await self.nodes.take_over(document)
        if dead is None:
            return  # another node was faster
        ids = list(dead.get("active", []))
        log.warning("taking over a dead node", extra={"dead_node": dead["_id"], "executions": len(ids)})
        self.runner.hold(ids)
        await self.nodes.add_active(ids)
        unfinished = await self.executions.unfinished(ids)
        taken = {execution["_id"] for execution in unfinished if execution.get("status") == "claimed"}
        self.runner.release([i for i in ids if i not in taken])
        for execution in unfinished:
            if execution["_id"] not in taken:
                continue
            execution["node"] = self.node_id
            execution["takeovers"] = int(execution.get("takeovers", 0)) + 1
            self.runner.start(execution, max_concurrent=None)

    # -- manual runs --------------------------------------------------------------------------------

    async def run_now(self, job_id: str) -> dict[str, Any]:
        now = utcnow()
        document = {
            "_id": manual_execution_id(job_id, now),
            "job_id": job_id,
            "trigger": "manual",
            "scheduled_time": now,
            "fire_time": now,
            "status": "claimed",
            "node": self.node_id,
            "attempt": 0,
            "takeovers": 0,
            "misfire": None,
            "claimed_at": now,
        }
        self.runner.hold([document["_id"]])
        await self.nodes.add_active([document["_id"]])
        await self.executions.claim([document])
        self.runner.start(document, max_concurrent=None)
        return document
