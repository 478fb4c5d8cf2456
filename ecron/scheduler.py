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
import gc
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from common.mongo import TRANSIENT_MONGO_ERRORS
from common.sharding import owner_of
from ecron.constants import CHANGES_KEEP_S, CHANGES_OVERLAP_S, MAINTENANCE_KEY, PROGRESS_ID, STATE_COLLECTION
from ecron.executions import (
    ExecutionStore,
    OutcomeWriter,
    insert_ignoring_duplicates,
    manual_execution_id,
    parse_slot_execution_id,
    slot_execution_id,
)
from ecron.jobs import JobStore
from ecron.nodes import NodeRegistry
from ecron.plan import Plan, PlannedJob, Slot, misfire_decision
from ecron.runner import ExecutionRunner
from ecron.settings import EcronSettings

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Takeover:
    """How far the takeover of one dead node got, so that it can be repeated after a MongoDB error
    without running anything twice."""

    dead: dict[str, Any]
    generation: int  # the runner's generation when it began: a node that lost its own lease abandons it
    decided: bool = False  # this node won the marker and removed the dead node's document
    held: bool = False  # the dead node's executions are listed as this node's
    unstarted: list[dict[str, Any]] = field(default_factory=list)
    maybe_fired: list[tuple[str, tuple[str, datetime]]] = field(default_factory=list)
    looked_up: list[str] = field(default_factory=list)
    interrupted: set[str] | None = None  # slots whose interrupted outcome this node inserted
    continued: bool = False  # their takeover executions are claimed
    started: set[str] = field(default_factory=set)
    failures: int = 0

    def start(self, runner: ExecutionRunner, execution: dict[str, Any]) -> None:
        if execution["_id"] not in self.started:
            self.started.add(execution["_id"])
            runner.start(execution, max_concurrent=None)


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
        self._taking_over: set[str] = set()
        self._node_documents: list[dict[str, Any]] = []
        self._last_collection = 0.0
        self._last_full_collection = time.monotonic()
        self._last_progress = 0.0
        self.stopping = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        """Join the cluster and load every job (called once MongoDB answers)."""
        await self.nodes.register()
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
            loop.create_task(self._forever(self._maintenance_step, "maintenance")),
            loop.create_task(self._forever(self._collector_step, "collector")),
        ]
        gc.disable()  # collections are scheduled between slots by _collector_step

    async def stop(self) -> None:
        self.stopping = True
        for task in self._tasks:
            task.cancel()
        gc.enable()
        await self.runner.drain(self.settings.shutdown_wait_s)
        await self.writer.stop()
        with contextlib.suppress(*TRANSIENT_MONGO_ERRORS):
            if self.runner.held:
                await self.nodes.heartbeat(*self.runner.held_lists(), self._changes_since)
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
        gc.freeze()  # the plan lives as long as the process: keep it out of every collection (see _collector_step)
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

    async def _resync_plan(self) -> None:
        """Apply every job whose stored revision differs from the plan's, and drop the deleted ones."""
        stored = set()
        async for document in self.jobs.all_documents():
            stored.add(document["_id"])
            if self.plan.revision_of(document["_id"]) != document["revision"]:
                self.apply_job(document, document["_id"])
        for job_id in [job_id for job_id in self.plan.jobs if job_id not in stored]:
            self.apply_job(None, job_id)
        log.info("plan compared with the stored jobs", extra={"jobs": len(stored)})

    async def _changes_step(self) -> float:
        since = self._changes_since
        now = utcnow()
        if (now - since).total_seconds() > CHANGES_KEEP_S - CHANGES_OVERLAP_S * 2:
            # The feed may have been pruned past what this node read last (it was cut off from
            # MongoDB for a long while): compare the whole plan with the stored jobs instead, then
            # follow the feed from when the comparison began.
            await self._resync_plan()
            self._changes_since = now
            return 0.0
        changes = await self.jobs.changes_since(since - timedelta(seconds=CHANGES_OVERLAP_S))
        self._changes_since = now
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
                    "revision": slot.revision,
                    "status": status,
                    "node": self.node_id,
                    "attempt": 0,
                    "takeovers": 0,
                    "misfire": reason,
                    "claimed_at": now,
                    **({"finished_at": now} if status == "missed" else {}),
                }
            )
        try:
            won = await self._insert_claims(documents)
        except BaseException:
            self._ambiguous.update(d["_id"] for d in documents)  # the insert may have reached MongoDB
            raise
        by_id = {slot_execution_id(s.job_id, s.scheduled_time): planned for s, planned, _ in slots}
        for document in documents:
            if document["_id"] in won and document["status"] == "claimed":
                self.runner.start(document, by_id[document["_id"]].max_concurrent)
        lost = [d["_id"] for d in documents if d["_id"] not in won and d["_id"] in self._ambiguous]
        self._ambiguous.difference_update(d["_id"] for d in documents)
        await self._resume_own_claims(lost, by_id)

    async def _insert_claims(self, documents: list[dict[str, Any]]) -> set[str]:
        """Insert claims for this node; returns the ids it won.

        The ids of the claims to run are listed as ``claiming`` before the
        insert and as ``active`` once it answered (see :mod:`ecron.nodes`), so
        a node taking over from this one knows which claims are surely its.
        """
        ids = [d["_id"] for d in documents if d["status"] == "claimed"]
        self.runner.hold(ids, confirmed=False)
        try:
            await self.nodes.add_held(ids, confirmed=False)
            won = await self.executions.claim(documents)
        except BaseException:
            self.runner.release(ids)
            raise
        self.runner.release([i for i in ids if i not in won])
        self.runner.confirm(ids)
        if ids:
            await self.nodes.set_held(*self.runner.held_lists())
        return won

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
                self.runner.hold([claim["_id"]], confirmed=True)
                await self.nodes.add_held([claim["_id"]], confirmed=True)
                self.runner.start(claim, by_id[claim["_id"]].max_concurrent)

    # -- membership ---------------------------------------------------------------------------

    async def _membership_step(self) -> float:
        """Renew this node's lease and look at the others; nothing slow runs here.

        A heartbeat that waited on a slow query would let this node's lease run
        out under load and make the others take it over, so takeovers and
        pruning run in tasks of their own. The step comes back just after the
        earliest lease of another node runs out, so a dead node is noticed when
        its lease ends, not up to a heartbeat later.
        """
        started = time.monotonic()
        if self._takeover_blocked_until > started + self.settings.lease_s * 2:
            # Coming back from an outage: everyone missed heartbeats, so wait a full lease before judging others.
            self._takeover_blocked_until = started + self.settings.lease_s + self.settings.heartbeat_s
        alive = await self.nodes.heartbeat(*self.runner.held_lists(), self._changes_since)
        if not alive:
            log.warning("this node's lease was taken over by another node; dropping what it held")
            self.runner.drop_all()
            await self.nodes.register()
        self._lease_valid_until = started + self.settings.lease_s - 0.25
        next_expiry = await self._refresh_membership()
        if started - self._last_progress > 10:
            self._last_progress = started
            await self.db[STATE_COLLECTION].update_one(
                {"_id": PROGRESS_ID}, {"$max": {"at": utcnow() - timedelta(seconds=1)}}, upsert=True
            )
        wait = self.settings.heartbeat_s - (time.monotonic() - started)
        if next_expiry is not None:
            wait = min(wait, (next_expiry - utcnow()).total_seconds() + 0.02)
        return max(wait, 0.02)

    async def _collector_step(self) -> float:
        """Collect garbage between slots instead of while they fire.

        A collection pauses the event loop (a full one for tens of milliseconds
        on a large heap); the automatic collector may start one at any moment,
        including the instant a thousand slots are due. So automatic collection
        is off while the scheduler runs, and this step collects when nothing
        fires in the next 150 ms: the young generations every second, all of
        them every 30 s. If slots never leave such a gap, it collects anyway
        after 5 s, so memory held by reference cycles stays bounded.
        """
        now = time.monotonic()
        until = self.runner.seconds_until_next_fire()
        planned = self.plan.next_fire_time()
        if planned is not None:
            ahead = (planned - utcnow()).total_seconds() - self.settings.lookahead_s
            until = ahead if until is None else min(until, ahead)
        since = now - self._last_collection
        if since >= 1.0 and (until is None or until > 0.15 or since > 5.0):
            full = now - self._last_full_collection > 30.0
            gc.collect(2 if full else 1)
            self._last_collection = time.monotonic()
            if full:
                self._last_full_collection = self._last_collection
            return 1.0
        if until is not None and until <= 0.15:
            return max(until, 0.0) + 0.05  # just after the slot fires
        return max(1.0 - since, 0.05)

    async def _maintenance_step(self) -> float:
        """Prune the change feed and old executions, on one node of the cluster at a time.

        Deleting by a condition reads the whole collection on FerretDB's SQLite
        backend, so it runs rarely and only on the node that rendezvous hashing
        picks for the key ``maintenance``.
        """
        if self.owner(MAINTENANCE_KEY) == self.node_id:
            now = utcnow()
            positions = [d.get("changes_read_until") for d in self._node_documents if d["lease_expires_at"] > now]
            await self.jobs.prune_changes(None if None in positions or not positions else min(positions))
            if time.monotonic() - self._last_prune > self.settings.prune_interval_s:
                self._last_prune = time.monotonic()
                await self.executions.prune(utcnow() - timedelta(days=self.settings.history_days))
                await self.nodes.prune_takeovers(utcnow() - timedelta(days=1))
        return 5.0

    async def _refresh_membership(self) -> datetime | None:
        """Update the view of live nodes; returns when the earliest lease of another live node ends."""
        now = utcnow()
        documents = await self.nodes.all()
        self._node_documents = documents
        alive = tuple(sorted({d["_id"] for d in documents if d["lease_expires_at"] > now} | {self.node_id}))
        if alive != self.view:
            log.info("membership changed", extra={"nodes": list(alive)})
            self.view = alive
            self._owners.clear()
            await self._rescue_recent()
        if time.monotonic() >= self._takeover_blocked_until:
            for document in documents:
                if (
                    document["lease_expires_at"] <= now
                    and document["_id"] != self.node_id
                    and document["_id"] not in self._taking_over
                ):
                    self._taking_over.add(document["_id"])
                    task = asyncio.get_running_loop().create_task(self._take_over(document))
                    self._tasks.append(task)
                    task.add_done_callback(self._tasks.remove)
        others = [d["lease_expires_at"] for d in documents if d["_id"] != self.node_id and d["lease_expires_at"] > now]
        return min(others) if others else None

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
        """Take a dead node over; after a MongoDB error, repeat the steps not done yet until it is done."""
        progress = Takeover(dead=document, generation=self.runner.generation)
        delay = 0.5
        try:
            while not self.stopping:
                if self.runner.generation != progress.generation:
                    # This node lost its own lease meanwhile: whoever took it over has the dead node's executions.
                    log.warning("abandoning the takeover of node %s: this node lost its lease", document["_id"])
                    return
                try:
                    if not progress.decided:
                        if await self.nodes.take_over(document) is None:
                            return  # another node was faster, or the node renewed its lease
                        progress.decided = True
                    await self._resume_executions(progress)
                    return
                except TRANSIENT_MONGO_ERRORS as exc:
                    progress.failures += 1
                    log.warning("taking over node %s waits for MongoDB: %s", document["_id"], exc)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 5.0)
        except Exception:
            log.exception("taking over node %s failed", document["_id"])
        finally:
            self._taking_over.discard(document["_id"])

    async def _resume_executions(self, progress: Takeover) -> None:
        """Run the unfinished executions a dead node held, without reading the history.

        Reading the claims or outcomes of a few ids reads the whole collection
        on FerretDB's SQLite backend (seconds with a large history), so the
        common cases decide by inserts and ids alone:

        - a claim of the dead node whose fire time is at or after its lease
          expiry cannot have started (a node fires nothing once its lease ran
          out): it runs from its id alone;
        - any other scheduled claim of the dead node may have fired: its
          outcome is inserted as ``interrupted``. If that insert wins, the node
          never recorded an outcome and a takeover execution
          ``<id>~takeover-<n>`` runs the slot again (at least once: an action
          the node started just before it died runs twice); if it loses, the
          slot had finished.

        Only manual runs, takeover executions and claims whose insert was in
        flight when the node died are looked up, and, when an earlier pass of
        this takeover failed, the inserts whose answer may have been lost.
        """
        dead = progress.dead
        confirmed = list(dead.get("active", []))
        in_flight = sorted(set(dead.get("claiming", [])) - set(confirmed))
        if not progress.held:
            log.warning(
                "taking over a dead node",
                extra={"dead_node": dead["_id"], "executions": len(confirmed), "claims_in_flight": len(in_flight)},
            )
            self.runner.hold(confirmed, confirmed=True)
            await self.nodes.add_held(confirmed, confirmed=True)
            progress.held = True
            # Decided once: the plan may change before a later pass, and a slot started as unstarted must
            # never be marked interrupted afterwards.
            progress.looked_up = list(in_flight)
            for execution_id in confirmed:
                parsed = parse_slot_execution_id(execution_id)
                if parsed is None:
                    progress.looked_up.append(execution_id)
                elif (execution := self._unstarted_slot(execution_id, parsed, dead["lease_expires_at"])) is not None:
                    progress.unstarted.append(execution)
                else:
                    progress.maybe_fired.append((execution_id, parsed))
        for execution in progress.unstarted:
            progress.start(self.runner, execution)
        await self._continue_interrupted(progress)
        if progress.looked_up:
            await self._resume_looked_up(progress, in_flight)

    async def _continue_interrupted(self, progress: Takeover) -> None:
        slots = progress.maybe_fired
        if not slots:
            return
        dead_id = progress.dead["_id"]
        suffix = f"~takeover-{self.node_id[-6:]}"
        if progress.interrupted is None:
            now = utcnow()
            interrupted = [
                {
                    "_id": execution_id,
                    "job_id": job_id,
                    "status": "interrupted",
                    "node": dead_id,
                    "finished_at": now,
                    "error": f"node {dead_id} stopped before this execution finished; "
                    f"node {self.node_id} ran the slot again as {execution_id}{suffix}",
                    "continued_as": execution_id + suffix,
                }
                for execution_id, (job_id, _) in slots
            ]
            won = await insert_ignoring_duplicates(self.executions.outcomes, interrupted)
            lost = [execution_id for execution_id, _ in slots if execution_id not in won]
            if progress.failures and lost:  # an earlier pass may have inserted some and lost the answer
                async for outcome in self.executions.outcomes.find({"_id": {"$in": lost}}):
                    if outcome.get("continued_as") == outcome["_id"] + suffix:
                        won.add(outcome["_id"])
            progress.interrupted = won
            self.runner.release([execution_id for execution_id, _ in slots])  # finished: interrupted, or before
        if progress.continued:
            return
        now = utcnow()
        continuations = [
            self._taken_over_claim(execution_id + suffix, job_id, scheduled_time, "takeover")
            | {"continues": execution_id, "claimed_at": now}
            for execution_id, (job_id, scheduled_time) in slots
            if execution_id in progress.interrupted
        ]
        inserted = await self._insert_claims(continuations)
        missing = [c["_id"] for c in continuations if c["_id"] not in inserted]
        if progress.failures and missing:  # claims an earlier pass inserted without hearing back
            ours = [c["_id"] for c in await self.executions.unfinished(missing) if c.get("node") == self.node_id]
            self.runner.hold(ours, confirmed=True)
            await self.nodes.add_held(ours, confirmed=True)
            inserted.update(ours)
        progress.continued = True
        for continuation in continuations:
            if continuation["_id"] in inserted:
                progress.start(self.runner, continuation)

    async def _resume_looked_up(self, progress: Takeover, in_flight: list[str]) -> None:
        """Run the looked-up ids with a claim and no outcome (of claims in flight, the dead node's only)."""
        dead_id, execution_ids = progress.dead["_id"], progress.looked_up
        self.runner.hold(in_flight, confirmed=False)
        await self.nodes.add_held(in_flight, confirmed=False)
        unfinished = await self.executions.unfinished(execution_ids)
        taken = {
            execution["_id"]
            for execution in unfinished
            if execution.get("status") == "claimed"
            and (execution["_id"] not in in_flight or execution.get("node") == dead_id)
        }
        self.runner.release([i for i in execution_ids if i not in taken and i not in progress.started])
        self.runner.confirm(list(taken))
        await self.nodes.set_held(*self.runner.held_lists())
        for execution in unfinished:
            if execution["_id"] not in taken:
                continue
            execution["node"] = self.node_id
            execution["takeovers"] = int(execution.get("takeovers", 0)) + 1
            progress.start(self.runner, execution)

    def _unstarted_slot(
        self, execution_id: str, parsed: tuple[str, datetime], lease_expired_at: datetime
    ) -> dict[str, Any] | None:
        """The claim of a scheduled slot that fires at or after ``lease_expired_at``, rebuilt from its id."""
        job_id, scheduled_time = parsed
        planned = self.plan.jobs.get(job_id)
        if planned is None or any(schedule.jitter_s for schedule in planned.schedules):
            return None  # unknown here, or its fire time depends on the jitter
        if scheduled_time < lease_expired_at:
            return None
        return self._taken_over_claim(execution_id, job_id, scheduled_time, "schedule")

    def _taken_over_claim(
        self, execution_id: str, job_id: str, scheduled_time: datetime, trigger: str
    ) -> dict[str, Any]:
        """A claim this node runs for a dead one, due at its scheduled time (it is late already, or has no jitter)."""
        return {
            "_id": execution_id,
            "job_id": job_id,
            "trigger": trigger,
            "scheduled_time": scheduled_time,
            "fire_time": scheduled_time,
            "status": "claimed",
            "node": self.node_id,
            "attempt": 0,
            "takeovers": 1,
            "misfire": None,
        }

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
        await self._insert_claims([document])
        self.runner.start(document, max_concurrent=None)
        return document
