"""Runs and their tasks: creation, the state machine, cancel, retry, backfill, healing.

A run is one document in ``runs`` (its params and state; the flow
definition it runs is kept in ``run_definitions``) and a journal: the insert-only collection
``journal.<run_id>`` from which every task's state is derived (see
:mod:`flow_automation.engine.journal` for its records and why it is
insert-only). Every decision several processes may race for is a record
with a deterministic ``_id``, so exactly one of them inserts it.

How a task becomes runnable: when a task ends, the executor that inserted
its ``final`` record settles its downstream tasks. A task waiting for that
one upstream is decided at once (ready, skipped or upstream_failed,
:func:`states.decide`); when it is ready, the same executor claims it in the
same insert (the final record names it) and goes straight on with it (a
*handoff*: a chain advances by one round trip). A task with several
upstreams (a join) is decided by its last arrival: each arriving upstream
climbs the join's arrival tree (:func:`journal.climb`), one insert per
level, and exactly one climbs past its root. The run ends the same way when
its last sink (a task nothing depends on) ends.

Ready tasks that are not handed off wait in ``task_queue`` (small: claimed
entries leave it), which executors read a few at a time without a filter.

Per-flow concurrency: a run starts only after inserting one of the flow's
``slot:<flow>:<k>`` documents in ``flow_slots`` (k below the flow's limit);
it deletes it when it ends.

Crash windows (a process dying between two inserts) are closed by
:meth:`RunEngine.heal`, which executors run over active runs now and then:
it re-derives each task's state and finishes what a dead process left half
done (a decision not followed, a ready task not queued, a run not closed).

Events are flushed to Kafka before the write that lets another process act
on them (see :mod:`flow_automation.engine.events`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import secrets
import time
from collections import OrderedDict
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.errors import Conflict, InvalidDefinition, NotFound
from common.settings import Settings
from flow_automation.engine import journal as jr
from flow_automation.engine import states as st
from flow_automation.engine.batching import InsertBatcher
from flow_automation.engine.events import EventPublisher, run_event
from flow_automation.flows.model import FlowDefinition, resolve_params
from flow_automation.flows.schedule import cron_trigger, slots
from flow_automation.flows.store import FlowStore, definition_hash

log = logging.getLogger(__name__)

RUNS, DEFINITIONS, DEDUPE, CACHE = "runs", "run_definitions", "run_dedupe", "node_cache"
#: The fields of a run its plan is built from (with its state, for those who check it in the same read).
PLAN_FIELDS = {"definition_id": 1, "flow_id": 1, "attempt": 1, "epochs": 1, "state": 1}
QUEUE, EXECUTORS, SLOTS = "task_queue", "executors", "flow_slots"
MAX_BACKFILL_RUNS = 1000
#: Tasks per queue entry (an executor's default number of slots).
QUEUE_CHUNK = 8
MAX_RETRY_DELAY_S = 3600.0
#: A slot held this long by a run that is still queued was taken by a process that died before starting it.
SLOT_START_GRACE_S = 60.0
#: A half-done step older than this was left by a process that died; :meth:`RunEngine.heal` finishes it.
HEAL_AFTER_S = 10.0
#: Upstream finals read one by one (by ``_id``) up to this many; more are read in one pass over the journal.
POINT_READS = 16
PLAN_CACHE_SIZE = 256
#: Fields of journal records that the derivation of states does not need.
HEAVY_FIELDS = {"outputs": 0, "logs": 0, "preview": 0}


def new_run_id() -> str:
    """Time-ordered ids, so "newest first" is an index order: ms timestamp + random."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


def now_utc() -> datetime:
    return datetime.now(UTC)


def retry_delay(backoff_s: float, attempt: int) -> float:
    """Exponential backoff with +-20% jitter: ``backoff * 2**(attempt-1)``."""
    return min(MAX_RETRY_DELAY_S, backoff_s * 2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.2)


def record(kind: str, record_id: str, **fields: Any) -> dict[str, Any]:
    return {"_id": record_id, "kind": kind, "at": now_utc(), **fields}


def task_event(plan: jr.RunPlan, node: str, state: str, attempt: int, **extra: Any) -> dict[str, Any]:
    return {
        "kind": "task",
        "run_id": plan.run_id,
        "flow_id": plan.flow_id,
        "node_id": node,
        "state": state,
        "attempt": attempt,
        "at": now_utc().isoformat(),
        **extra,
    }


@dataclass
class Claim:
    """An attempt of a task that this process won the right to run."""

    plan: jr.RunPlan
    node: str
    attempt: int
    epoch: int
    transient: int = 0
    reason: str | None = None

    @property
    def id(self) -> str:
        return f"{self.plan.run_id}:{self.node}"

    @property
    def spec(self) -> jr.TaskSpec:
        return self.plan.tasks[self.node]

    @property
    def attempt_limit(self) -> int:
        """The last attempt number this epoch allows: its retries, plus retries spent on a dependency being down."""
        return self.plan.base_attempts(self.node) + self.spec.retries + 1 + self.transient

    def claim_record(self, executor: str) -> dict[str, Any]:
        """The record that claims this attempt (fields at their default are left out: see ``Executor._final``)."""
        extra: dict[str, Any] = {"reason": self.reason} if self.reason else {}
        if self.transient:
            extra["transient"] = self.transient
        return record(
            "claim",
            jr.claim_id(self.node, self.attempt),
            node=self.node,
            epoch=self.epoch,
            attempt=self.attempt,
            executor=executor,
            **extra,
        )


@dataclass
class Settled:
    """What settling a task's end produced for the process that did it."""

    handoff: Claim | None = None
    enqueue: list[tuple[str, int]] = field(default_factory=list)  # (node, attempt)
    run_ended: bool = False  # the last sink ended: the run may end


@dataclass(frozen=True)
class Arrival:
    """A task's end arriving at a join, or at its run's end (``target`` :data:`journal.RUN_END`)."""

    target: str
    epoch: int
    steps: tuple[tuple[int, int], ...]  # the arrival tree's nodes it contests, bottom up (journal.climb)
    upstream: str
    state: str

    def record(self, step: int) -> dict[str, Any]:
        level, position = self.steps[step]
        return record(
            "arrival",
            jr.arrival_id(self.target, self.epoch, level, position),
            upstream=self.upstream,
            state=self.state,
        )


@dataclass
class Climber:
    """An arrival on its way up its tree in this process: ``step`` indexes the tree node it contests next."""

    arrival: Arrival
    future: asyncio.Future[bool]
    step: int = 0

    @property
    def node(self) -> tuple[int, int]:
        return self.arrival.steps[self.step]


def meet(climbers: list[Climber], known: AbstractSet[tuple[int, int]] = frozenset()) -> list[Climber]:
    """Climb a process's climbers of one tree together: those left to insert the tree node they are at.

    Each subtree has one climber, so two climbers at the same tree node are
    its two sides: one goes on for both, without an insert (the other is
    done); a climber past the root is done, the last arrival. ``known`` are
    tree nodes this process inserted earlier: a climber reaching one is its
    second side and goes on without an insert, as if its insert had failed.
    """
    at: dict[tuple[int, int], Climber] = {}
    for climber in climbers:
        while climber.step < len(climber.arrival.steps):
            if climber.node in known:
                climber.step += 1
                continue
            met = at.pop(climber.node, None)
            if met is None:
                at[climber.node] = climber
                break
            met.future.set_result(False)
            climber.step += 1
        else:
            climber.future.set_result(True)
    return list(at.values())


def pack_tasks(tasks: list[dict[str, Any]]) -> str:
    """A queue entry's tasks as one JSON string.

    FerretDB's SQLite backend decodes every entry it reads or deletes, and
    one string decodes many times faster than eight sub-documents (a read of
    32 entries: 11 ms as sub-documents). FerretDB stores no nested arrays,
    hence not a list of lists either.
    """
    return json.dumps(
        [[task["node"], int(task["epoch"]), int(task["attempt"]), int(task.get("transient", 0))] for task in tasks],
        separators=(",", ":"),
    )


def unpack_tasks(entry: dict[str, Any]) -> list[dict[str, Any]]:
    """The tasks of a queue entry (packed by :func:`pack_tasks`, or a list of documents as queued before)."""
    tasks = entry.get("tasks") or []
    if isinstance(tasks, list):
        return tasks
    return [
        {"node": node, "epoch": epoch, "attempt": attempt, "transient": transient}
        for node, epoch, attempt, transient in json.loads(tasks)
    ]


def queue_entry_id(run_id: str, first_node: str, first_attempt: int, count: int) -> str:
    """A queue entry's id, from its first task and size: the same tasks queued twice make one entry."""
    return f"{run_id}:{first_node}:{first_attempt}:{count}"


class RunEngine:
    def __init__(self, db: AsyncDatabase, settings: Settings, events: EventPublisher, flows: FlowStore) -> None:
        self.db = db
        self.settings = settings
        self.events = events
        self.flows = flows
        self.runs = db[RUNS]
        self.queue = db[QUEUE]
        self.executors = db[EXECUTORS]
        self.slots = db[SLOTS]
        self.dedupe = db[DEDUPE]
        self.cache = db[CACHE]
        self.writer = InsertBatcher(db)
        self.definitions = db[DEFINITIONS]
        self._plans: OrderedDict[str, jr.RunPlan] = OrderedDict()
        self._definitions: OrderedDict[str, dict[str, jr.TaskSpec]] = OrderedDict()  # definition id -> tasks
        self._climbers: dict[str, list[Climber]] = {}
        self._climbing: set[str] = set()
        #: Arrival tree nodes this process inserted, by tree (the newest trees): a sibling that ends here later
        #: climbs on without an insert. Inserted and lost, it made FerretDB insert its whole batch again one
        #: document at a time; in a wide fan-in nearly every tree node was lost once.
        self._tree_nodes: OrderedDict[str, set[tuple[int, int]]] = OrderedDict()
        self._arriving: set[asyncio.Task[None]] = set()

    async def ensure_indexes(self) -> None:
        await self.runs.create_index([("flow_id", ASCENDING), ("state", ASCENDING)])
        await self.runs.create_index([("state", ASCENDING)])

    def journal(self, run_id: str) -> Any:
        return self.writer.collection(jr.journal_name(run_id))

    async def record(self, run_id: str, documents: list[dict[str, Any]]) -> list[bool]:
        """Insert journal records (batched with whatever else this process inserts meanwhile)."""
        return await self.writer.insert(jr.journal_name(run_id), documents)

    async def guard(self, run_id: str, record_id: str, **fields: Any) -> bool:
        """Take the run-level decision ``record_id``: True for exactly one caller, ever."""
        return (await self.record(run_id, [record("guard", record_id, **fields)]))[0]

    async def plan(self, run_id: str, attempt: int = 1, *, run: dict[str, Any] | None = None) -> jr.RunPlan:
        """The run's tasks and epochs (cached: a definition never changes, epochs only when it is retried).

        ``run``: the run's document with :data:`PLAN_FIELDS`, when the caller has just read it.
        """
        cached = self._plans.get(run_id)
        if cached is not None and cached.attempt >= attempt:
            self._plans.move_to_end(run_id)
            return cached
        if run is None or int(run.get("attempt", 1)) < attempt or "definition_id" not in run:
            run = await self.runs.find_one({"_id": run_id}, PLAN_FIELDS)
        if run is None:
            raise NotFound("run", run_id)
        plan = jr.RunPlan.of_run(run, await self._tasks(run["definition_id"]))
        self._plans[run_id] = plan
        while len(self._plans) > PLAN_CACHE_SIZE:
            self._plans.popitem(last=False)
        return plan

    async def _tasks(self, definition_id: str) -> dict[str, jr.TaskSpec]:
        """The tasks of a run's definition (kept apart from the run: runs are listed often, definitions can be
        large), built once per definition: parsing a definition of a thousand nodes took 15-20 ms, in every
        executor that claimed a task of each of its runs."""
        cached = self._definitions.get(definition_id)
        if cached is None:
            doc = await self.definitions.find_one({"_id": definition_id})
            if doc is None:
                raise NotFound("run definition", definition_id)
            packed = doc.get("packed")
            cached = self._definitions[definition_id] = jr.task_specs(
                json.loads(packed) if packed else doc["definition"]
            )
            while len(self._definitions) > PLAN_CACHE_SIZE:
                self._definitions.popitem(last=False)
        else:
            self._definitions.move_to_end(definition_id)
        return cached

    async def records(self, run_id: str, *, heavy: bool = False) -> list[dict[str, Any]]:
        return await self.journal(run_id).find({}, None if heavy else HEAVY_FIELDS).to_list()

    async def task_states(
        self, run: dict[str, Any], *, previews: bool = False
    ) -> tuple[jr.RunPlan, dict[str, dict[str, Any]]]:
        """The run's plan and every task's state, derived from its journal (with output previews if asked)."""
        plan = await self.plan(run["_id"], int(run.get("attempt", 1)))
        projection = {"outputs": 0, "logs": 0} if previews else HEAVY_FIELDS
        return plan, jr.derive(plan, await self.journal(run["_id"]).find({}, projection).to_list())

    async def final_of(self, plan: jr.RunPlan, node: str) -> dict[str, Any] | None:
        return await self.journal(plan.run_id).find_one({"_id": jr.final_id(node, plan.epoch(node))})

    async def finals(self, plan: jr.RunPlan, nodes: list[str]) -> dict[str, dict[str, Any]]:
        """The final records of ``nodes`` in their current epochs (those that have one)."""
        if len(nodes) <= POINT_READS:
            found = await asyncio.gather(*(self.final_of(plan, node) for node in nodes))
            return {node: doc for node, doc in zip(nodes, found, strict=True) if doc is not None}
        wanted = {jr.final_id(node, plan.epoch(node)): node for node in nodes}
        docs = await self.journal(plan.run_id).find({"kind": "final"}, {"logs": 0, "preview": 0}).to_list()
        return {wanted[doc["_id"]]: doc for doc in docs if doc["_id"] in wanted}

    # -- creating runs ---------------------------------------------------------------

    async def create_run(
        self,
        flow_id: str,
        *,
        params: dict[str, Any] | None = None,
        version: int | None = None,
        trigger: dict[str, Any] | None = None,
        actor: str | None = None,
        parent: dict[str, Any] | None = None,
        scheduled_time: datetime | None = None,
        dedupe_key: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """A new run of ``flow_id`` (latest version unless given); returns (run, created).

        With ``dedupe_key``, a second request with the same key returns the
        first run instead of starting another (a redelivered trigger message).
        """
        flow, version_number = await self.flows.definition(flow_id, version)
        given = dict(params or {})
        if scheduled_time is not None:
            given.pop("scheduled_time", None)
        resolved, problems = resolve_params(flow.params, given)
        if problems:
            raise InvalidDefinition("the run's params are not valid", details={"errors": problems})
        if scheduled_time is not None:
            resolved["scheduled_time"] = scheduled_time.isoformat()
        run_id = new_run_id()
        if dedupe_key is not None:
            try:
                await self.dedupe.insert_one({"_id": dedupe_key, "run_id": run_id, "created_at": now_utc()})
            except DuplicateKeyError:
                earlier = await self.dedupe.find_one({"_id": dedupe_key})
                existing = await self.runs.find_one({"_id": earlier["run_id"]}) if earlier else None
                if existing is not None:
                    return existing, False
                await self.dedupe.replace_one({"_id": dedupe_key}, {"run_id": run_id, "created_at": now_utc()})
        run = {
            "_id": run_id,
            "flow_id": flow_id,
            "version": version_number,
            "state": st.QUEUED,
            "params": resolved,
            "trigger": trigger or {"type": "manual"},
            "created_by": actor,
            "created_at": now_utc(),
            "started_at": None,
            "finished_at": None,
            "attempt": 1,
            "epochs": {},
            "parent": parent,
            "scheduled_time": scheduled_time,
            "concurrency": flow.concurrency,
            "cancel_requested": False,
            "slot": None,
            "dedupe_key": dedupe_key,
            "node_count": len(flow.nodes),
            "definition_id": await self._keep_definition(flow_id, version_number, flow),
        }
        partition, offset = await self.events.publish_async(run_event(run, st.QUEUED, version=version_number))
        run["events"] = {"partition": partition, "offset": offset}
        await self.runs.insert_one(run)
        await self.start_queued(flow_id, flow.concurrency)
        return await self.runs.find_one({"_id": run_id}) or run, True

    async def _keep_definition(self, flow_id: str, version: int, flow: FlowDefinition) -> str:
        """Store the definition a run executes (once per flow version), apart from the flow's own versions.

        A run must outlive its flow: a deleted flow's runs still show their tasks.
        It is stored as one JSON string (``packed``): FerretDB's SQLite backend
        decodes a whole document to return it, and a 1,000-node definition as
        nested documents took about 300 ms per read; documents stored with a
        ``definition`` field are still read.
        """
        definition = flow.model_dump(mode="json", by_alias=True)
        definition_id = f"{flow_id}:{version}:{definition_hash(definition)[:16]}"
        if definition_id not in self._definitions:
            with contextlib.suppress(DuplicateKeyError):
                await self.definitions.insert_one(
                    {"_id": definition_id, "packed": json.dumps(definition, separators=(",", ":")), "at": now_utc()}
                )
            self._definitions[definition_id] = jr.build_specs(flow)
        return definition_id

    async def start_queued(self, flow_id: str, limit: int | None = None) -> int:
        """Start queued runs of ``flow_id`` while it has free slots; returns how many started."""
        started = 0
        while True:
            run = await self.runs.find_one({"flow_id": flow_id, "state": st.QUEUED}, sort=[("_id", ASCENDING)])
            if run is None:
                return started
            cap = limit if limit is not None else int(run.get("concurrency") or 1)
            slot = await self._take_slot(flow_id, run["_id"], cap)
            if slot is None:
                return started
            key = f"start:{run.get('attempt', 1)}"
            if not await self.guard(run["_id"], key):
                await self.slots.delete_one({"_id": slot})
                if await self._stale(run["_id"], key):
                    # Its winner died before marking the run running: free the decision and try again.
                    await self.journal(run["_id"]).delete_one({"_id": key})
                    continue
                return started  # another process is starting this run
            await self._start(run, slot)
            started += 1

    async def _stale(self, run_id: str, key: str) -> bool:
        guard = await self.journal(run_id).find_one({"_id": key})
        return guard is not None and (now_utc() - guard["at"]).total_seconds() > SLOT_START_GRACE_S

    async def _take_slot(self, flow_id: str, run_id: str, cap: int) -> str | None:
        for index in range(cap):
            key = f"slot:{flow_id}:{index}"
            try:
                await self.slots.insert_one({"_id": key, "run_id": run_id, "flow_id": flow_id, "at": now_utc()})
            except DuplicateKeyError:
                continue
            return key
        return None

    async def _start(self, run: dict[str, Any], slot: str) -> None:
        await self.runs.update_one(
            {"_id": run["_id"]},
            {"$set": {"state": st.RUNNING, "slot": slot, "started_at": run.get("started_at") or now_utc()}},
        )
        plan = await self.plan(run["_id"], int(run.get("attempt", 1)), run=run)
        # Flushed with the roots' ready events, before they are queued (no executor acts on the run earlier).
        self.events.emit(run_event(run, st.RUNNING))
        roots = [node for node in plan.tasks if plan.epoch(node) == plan.attempt and plan.waiting(node) == 0]
        settled = Settled()
        await self._decide(plan, roots, {}, settled)
        await self._after(plan, settled)

    async def enqueue(
        self, plan: jr.RunPlan, tasks: list[tuple[str, int]], due: datetime | None = None, *, transient: int = 0
    ) -> None:
        """Put (node, attempt) pairs on the claim queue, ``QUEUE_CHUNK`` tasks to an entry.

        The queue is kept small because every delete scans it (FerretDB): a
        fan-out of a thousand tasks is 125 entries, and claiming eight tasks
        deletes one. A task queued twice (healing) is harmless: its claim
        record is taken once.
        """
        if not tasks:
            return
        moment = due or now_utc()
        entries = []
        for start in range(0, len(tasks), QUEUE_CHUNK):
            chunk = tasks[start : start + QUEUE_CHUNK]
            first, attempt = chunk[0]
            entries.append(
                {
                    "_id": queue_entry_id(plan.run_id, first, attempt, len(chunk)),
                    "run_id": plan.run_id,
                    "run_attempt": plan.attempt,
                    "due": moment,
                    "tasks": pack_tasks(
                        [
                            {"node": node, "epoch": plan.epoch(node), "attempt": attempt, "transient": transient}
                            for node, attempt in chunk
                        ]
                    ),
                }
            )
        await self.writer.insert(QUEUE, entries)  # an entry already queued stays as it is
        if moment <= now_utc():
            self.events.ring_doorbell(plan.run_id)

    async def reconcile_slots(self) -> None:
        """Free slots held by runs that ended or never started (a crash in between); start what can start."""
        for flow_id in await self.runs.distinct("flow_id", {"state": st.QUEUED}):
            for slot in await self.slots.find({"flow_id": flow_id}).to_list():
                holder = await self.runs.find_one({"_id": slot.get("run_id")}, {"state": 1})
                stale = (now_utc() - slot["at"]).total_seconds() > SLOT_START_GRACE_S
                if holder is None or holder["state"] in st.RUN_TERMINAL or (holder["state"] == st.QUEUED and stale):
                    await self.slots.delete_one({"_id": slot["_id"], "run_id": slot.get("run_id")})
            await self.start_queued(flow_id)

    async def backfill(
        self, flow_id: str, start: datetime, end: datetime, *, actor: str | None, version: int | None = None
    ) -> list[str]:
        """One run per slot of the flow's cron trigger in [start, end], queued behind its concurrency limit."""
        flow, _ = await self.flows.definition(flow_id, version)
        cron = next((t for t in flow.triggers if t.type == "cron"), None)
        if cron is None:
            raise InvalidDefinition(
                f"flow {flow_id!r} has no cron trigger to take slots from",
                details={"errors": [{"node": None, "field": "triggers", "message": "no cron trigger"}]},
            )
        if end < start:
            raise InvalidDefinition("end is before start", details={"errors": [{"field": "end", "message": "< start"}]})
        times = list(slots(cron_trigger(cron.cron, cron.timezone), start, end, limit=MAX_BACKFILL_RUNS + 1))
        if len(times) > MAX_BACKFILL_RUNS:
            raise InvalidDefinition(
                f"the range holds more than {MAX_BACKFILL_RUNS} slots; backfill it in parts",
                details={"errors": [{"field": "end", "message": "too many slots"}]},
            )
        run_ids = []
        for moment in times:
            run, _ = await self.create_run(
                flow_id,
                params=dict(cron.params),
                version=version,
                trigger={"type": "backfill", "cron": cron.cron},
                actor=actor,
                scheduled_time=moment,
                dedupe_key=f"backfill:{flow_id}:{moment.isoformat()}",
            )
            run_ids.append(run["_id"])
        return run_ids

    # -- ending a task and settling what follows ---------------------------------------

    async def complete(
        self, claim: Claim, final: dict[str, Any], *, hand_off: bool = False
    ) -> tuple[bool, Claim | None]:
        """Insert a task attempt's ``final`` record and settle its downstream tasks.

        Returns (whether this attempt's end was the one recorded, the
        downstream task claimed for the executor named in ``final`` when
        ``hand_off``). The final record and the ready records of downstream
        tasks it alone decides go in one batch of inserts, and the final
        record itself claims the first of them (:func:`journal.handoff_claim`):
        a chain advances by one round trip and one document.
        """
        plan, node = claim.plan, claim.node
        quick = [link.node for link in claim.spec.downstream if plan.waiting(link.node) <= 1]
        decisions = await self._single_decisions(plan, quick, {node: final})
        ready = [target for target in quick if decisions[target] == st.READY]
        handoff = (
            Claim(plan, ready[0], plan.base_attempts(ready[0]) + 1, plan.epoch(ready[0]))
            if ready and hand_off
            else None
        )
        # The markers go first: whoever sees this final record sees them too. A task handed off has no ready
        # record, nor a claim record of its own: the final record claims it, which says it became ready then.
        markers = self._markers(plan, node, final["state"], final.get("output_keys") or [])
        queued = [target for target in ready if handoff is None or target != handoff.node]
        if handoff is not None:
            final = {**final, "handoff": [handoff.node, handoff.epoch, handoff.attempt]}
        documents = [*markers, final] + [self._ready_record(plan, target) for target in queued]
        events = [task_event(plan, node, final["state"], claim.attempt, **_event_extra(final))]
        events += [task_event(plan, target, st.READY, 0) for target in ready]
        if handoff is not None:
            events.append(task_event(plan, handoff.node, st.RUNNING, handoff.attempt, executor=final["executor"]))
        inserted = self.writer.submit(jr.journal_name(plan.run_id), documents)
        self.events.emit_soon(events)  # while the insert is on its way
        if queued:
            self.events.flush_soon()  # queueing them waits for this flush
        won = (await inserted)[len(markers) :]
        # In the flow's order (not a set's): queue entries then hold neighbouring tasks, whose arrivals at a
        # fan-in meet in one executor instead of racing for their arrival tree's nodes.
        won_ready = [target for target, inserted in zip(queued, won[1 : 1 + len(queued)], strict=True) if inserted]
        settled = Settled()
        if not won[0]:
            # Another attempt of this task ended first (this one's lease had run out): its end stands.
            winner = await self.final_of(plan, node)
            decisions = await self._single_decisions(plan, quick, {node: winner or final})
            won_ready = [target for target in won_ready if decisions[target] == st.READY]
        else:
            terminal = {target: decision for target, decision in decisions.items() if decision != st.READY}
            await self._decide(plan, list(terminal), {}, settled, decided=terminal)
            arrivals = self._arrivals(plan, node, final["state"], decisions)
            if arrivals:
                # The task's slot does not wait for them: its end is recorded, and healing makes an arrival
                # that a process dying now never made.
                task = asyncio.get_running_loop().create_task(self._arrive_all(plan, arrivals))
                self._arriving.add(task)
                task.add_done_callback(self._arriving.discard)
        if won[0] and handoff is not None:
            settled.handoff = handoff  # its claim was this final record
        for target in won_ready:
            settled.enqueue.append((target, plan.base_attempts(target) + 1))
        await self._after(plan, settled)
        return bool(won[0]), settled.handoff

    def _markers(self, plan: jr.RunPlan, node: str, state: str, output_keys: list[str]) -> list[dict[str, Any]]:
        """The ``unclean`` and ``unusable`` records an end in ``state`` with ``output_keys`` must leave first."""
        if state == st.SUCCEEDED:
            markers = []
        else:
            markers = [record("marker", jr.unclean_id(plan.epoch(node)), node=node, state=state)]
        for link in plan.tasks[node].downstream:
            usable = state == st.SUCCEEDED and all(output in output_keys for output in link.consumes)
            if not usable and plan.waiting(link.node) > 1:
                markers.append(record("marker", jr.unusable_id(link.node, plan.epoch(link.node)), node=node))
        return markers

    def _arrivals(self, plan: jr.RunPlan, node: str, state: str, decided: Any) -> list[Arrival]:
        """The arrivals the end of ``node`` makes: at its joins (downstream tasks not in ``decided``), and at
        the run's end if it is a sink."""
        spec = plan.tasks[node]
        targets = [link.node for link in spec.downstream if link.node not in decided]
        if not spec.downstream:
            targets.append(jr.RUN_END)
        arrivals = []
        for target in targets:
            where = plan.arrival(target, node)
            if where is not None:  # an upstream of an earlier epoch does not arrive again
                name, epoch, index = where
                arrivals.append(Arrival(name, epoch, tuple(jr.climb(index, plan.waiting(target))), node, state))
        return arrivals

    async def _arrive_all(self, plan: jr.RunPlan, arrivals: list[Arrival]) -> None:
        settled = Settled()
        try:
            await asyncio.gather(*(self._arrive(plan, arrival, settled) for arrival in arrivals))
            await self._after(plan, settled)
        except Exception as exc:  # noqa: BLE001 - nobody awaits this: healing decides what was left
            log.warning(
                "run %s: the arrivals of %s were not all made (%r); healing finishes them",
                plan.run_id,
                arrivals[0].upstream,
                exc,
            )

    async def arrivals_made(self) -> None:
        """Wait for the arrivals at joins and run ends still on their way (a process stopping, a test)."""
        while self._arriving:
            await asyncio.gather(*self._arriving, return_exceptions=True)

    async def _arrive(self, plan: jr.RunPlan, arrival: Arrival, settled: Settled) -> None:
        """Climb the arrival tree; the arrival that climbs past its root settles the target.

        The events so far are flushed first: the climb lets another process
        decide the join or end the run, and its events must follow these.
        """
        await self.events.flush_async()
        if not await self._climb(plan.run_id, arrival):
            return
        if arrival.target == jr.RUN_END:
            settled.run_ended = True
        else:
            await self._joined(plan, arrival.target, settled)

    async def _climb(self, run_id: str, arrival: Arrival) -> bool:
        """Whether ``arrival`` climbs past the root of its tree.

        The arrivals at one tree that this process has on their way meanwhile
        climb together: two of them meeting at a tree node are both sides of
        it, so one goes on for both without inserting it; the rest insert their
        next node in one batch, and those that find it taken go on together to
        the next round. A fan-in whose upstreams end on one executor costs a
        few inserts instead of one per arrival.
        """
        key = f"{run_id}/{arrival.target}/{arrival.epoch}"
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._climbers.setdefault(key, []).append(Climber(arrival, future))
        if key not in self._climbing:
            self._climbing.add(key)
            asyncio.get_running_loop().create_task(self._climb_together(run_id, key))
        return await future

    async def _climb_together(self, run_id: str, key: str) -> None:
        taken: list[Climber] = []  # what this drain took on, to fail on an error
        climbing: list[Climber] = []
        try:
            while climbing or self._climbers.get(key):
                fresh = self._climbers.pop(key, [])
                taken = [climber for climber in taken if not climber.future.done()] + fresh
                known = self._tree_nodes_of(key)
                inserting = meet(climbing + fresh, known)
                won = await self.record(run_id, [climber.arrival.record(climber.step) for climber in inserting])
                climbing = []
                for climber, inserted in zip(inserting, won, strict=True):
                    if inserted:
                        known.add(climber.node)
                        climber.future.set_result(False)  # first here: the other side goes on when it arrives
                    else:
                        climber.step += 1
                        climbing.append(climber)
        except Exception as exc:  # noqa: BLE001 - handed to the callers waiting for these climbs
            for climber in taken + self._climbers.pop(key, []):
                if not climber.future.done():
                    climber.future.set_exception(exc)
        finally:
            self._climbing.discard(key)

    def _tree_nodes_of(self, key: str) -> set[tuple[int, int]]:
        nodes = self._tree_nodes.get(key)
        if nodes is None:
            nodes = self._tree_nodes[key] = set()
            while len(self._tree_nodes) > PLAN_CACHE_SIZE:
                self._tree_nodes.popitem(last=False)
        else:
            self._tree_nodes.move_to_end(key)
        return nodes

    def _ready_record(self, plan: jr.RunPlan, node: str) -> dict[str, Any]:
        return record("ready", jr.ready_id(node, plan.epoch(node)), node=node, epoch=plan.epoch(node))

    async def _single_decisions(
        self, plan: jr.RunPlan, targets: list[str], known: dict[str, dict[str, Any]]
    ) -> dict[str, str]:
        """Decisions for tasks whose every upstream is terminal, given some of the upstream finals."""
        decisions = {}
        for target in targets:
            deps = list(plan.tasks[target].deps)
            missing = [dep for dep in deps if dep not in known]
            finals = {**known, **(await self.finals(plan, missing) if missing else {})}
            if any(dep not in finals for dep in deps):
                decisions[target] = st.PENDING  # an upstream of an older epoch has no end: cannot happen
                continue
            decisions[target] = jr.decide_from(plan, target, {dep: finals[dep] for dep in deps})
        return decisions

    async def _joined(self, plan: jr.RunPlan, target: str, settled: Settled) -> None:
        """Decide the join ``target``, its last arrival having come.

        Every upstream arrives once (only the process that inserted its final
        record climbs), so the last arrival knows that all have ended. When none
        left an ``unusable`` marker the join is ready, without reading their
        ends (a thousand final records took a third of a second); otherwise,
        or when some upstreams ended in an earlier run attempt, the ends are read
        and decide it.
        """
        deps = list(plan.tasks[target].deps)
        if plan.waiting(target) == len(deps):
            marker = jr.unusable_id(target, plan.epoch(target))
            if await self.journal(plan.run_id).find_one({"_id": marker}, {"_id": 1}) is None:
                await self._decide(plan, [target], {}, settled, decided={target: st.READY})
                return
        finals = await self.finals(plan, deps)
        if len(finals) == len(deps):
            await self._decide(plan, [target], finals, settled)

    async def _decide(
        self,
        plan: jr.RunPlan,
        nodes: list[str],
        known: dict[str, dict[str, Any]],
        settled: Settled,
        *,
        decided: dict[str, str] | None = None,
    ) -> None:
        """Decide ``nodes`` (their upstream all ended) and record it; cascade through skipped and failed ones."""
        worklist = list(nodes)
        decided = dict(decided or {})
        while worklist:
            undecided = [node for node in worklist if node not in decided]
            decided.update(await self._single_decisions(plan, undecided, known))
            ready = [node for node in worklist if decided[node] == st.READY]
            terminal = [node for node in worklist if decided[node] in st.TASK_TERMINAL]
            worklist = []
            markers = [marker for node in terminal for marker in self._markers(plan, node, decided[node], [])]
            documents = markers + [self._ready_record(plan, node) for node in ready]
            documents += [
                record(
                    "final",
                    jr.final_id(node, plan.epoch(node)),
                    node=node,
                    epoch=plan.epoch(node),
                    state=decided[node],
                )
                for node in terminal
            ]
            if not documents:
                return
            for node in ready:
                self.events.emit(task_event(plan, node, st.READY, 0))
            for node in terminal:
                self.events.emit(task_event(plan, node, decided[node], plan.base_attempts(node)))
            self.events.flush_soon()  # the queueing or climbing that follows flushes first
            won = (await self.record(plan.run_id, documents))[len(markers) :]
            for node, inserted in zip(ready, won[: len(ready)], strict=True):
                if inserted:
                    settled.enqueue.append((node, plan.base_attempts(node) + 1))
            for node, inserted in zip(terminal, won[len(ready) :], strict=True):
                if not inserted:
                    continue
                quick = [link.node for link in plan.tasks[node].downstream if plan.waiting(link.node) <= 1]
                if quick:
                    known = {**known, node: {"state": decided[node], "output_keys": []}}
                    worklist += quick
                for arrival in self._arrivals(plan, node, decided[node], quick):
                    await self._arrive(plan, arrival, settled)

    async def _after(self, plan: jr.RunPlan, settled: Settled) -> None:
        """Publish, then queue what others may now claim, then end the run if its last sink ended."""
        if settled.enqueue:
            await self.events.flush_async()
            await self.enqueue(plan, settled.enqueue)
        if settled.run_ended:
            await self.finalize(plan.run_id, sinks_ended=True)

    # -- ending runs ----------------------------------------------------------------

    async def finalize(self, run_id: str, *, sinks_ended: bool = False) -> bool:
        """End the run if every task is terminal; returns whether this call ended it.

        ``sinks_ended``: the caller's sink was the last to arrive at the run's
        end, so every task has ended (each sink ends after its upstream). On a
        first run attempt without an ``unclean`` marker they all succeeded,
        and the run ends without deriving every task's state from the journal.
        """
        run = await self.runs.find_one({"_id": run_id})
        if run is None or run["state"] in st.RUN_TERMINAL:
            return False
        attempt = int(run.get("attempt", 1))
        clean = (
            sinks_ended
            and attempt == 1
            and not run.get("cancel_requested")
            and await self.journal(run_id).find_one({"_id": jr.unclean_id(attempt)}, {"_id": 1}) is None
        )
        if clean:
            counts = {st.SUCCEEDED: len((await self.plan(run_id, attempt)).tasks)}
        else:
            _, tasks = await self.task_states(run)
            counts = {}
            for task in tasks.values():
                counts[task["state"]] = counts.get(task["state"], 0) + 1
        if any(state not in st.TASK_TERMINAL for state in counts):
            return False
        if run.get("cancel_requested"):
            final = st.CANCELED
        elif counts.get(st.FAILED) or counts.get(st.UPSTREAM_FAILED) or counts.get(st.CANCELED):
            final = st.FAILED
        else:
            final = st.SUCCEEDED
        if not await self.guard(run_id, f"end:{run.get('attempt', 1)}", state=final, task_counts=counts):
            return False
        await self._close(run, final, counts)
        return True

    async def _close(self, run: dict[str, Any], final: str, counts: dict[str, int]) -> None:
        run_id = run["_id"]
        finished_at = now_utc()
        await self.events.emit_all([run_event(run, final, task_counts=counts)])
        await self.runs.update_one(
            {"_id": run_id}, {"$set": {"state": final, "finished_at": finished_at, "task_counts": counts, "slot": None}}
        )
        if run.get("slot"):
            await self.slots.delete_one({"_id": run["slot"], "run_id": run_id})
        await self.flows.set_fields(
            run["flow_id"], {"last_run": {"id": run_id, "state": final, "finished_at": finished_at}}
        )
        await self.start_queued(run["flow_id"])

    # -- healing -------------------------------------------------------------------------

    async def heal(self, run_id: str, live_executors: set[str]) -> list[Claim]:
        """Finish what a dead process left half done in one running run.

        Returns the attempts held by executors that are gone (no lease at
        all), for the caller to take over. Only steps older than
        ``HEAL_AFTER_S`` are touched, so a live process in the middle of
        the same step is not raced for nothing (and if it is, the unique
        records decide).
        """
        run = await self.runs.find_one({"_id": run_id})
        if run is None or run["state"] != st.RUNNING:
            return []
        plan = await self.plan(run_id, int(run.get("attempt", 1)))
        records = await self.records(run_id)
        ended = next((r for r in records if r["_id"] == f"end:{plan.attempt}"), None)
        if ended is not None:
            if _older(ended["at"]):
                await self._close(run, ended["state"], ended.get("task_counts", {}))
            return []
        tasks = jr.derive(plan, records)
        finals = {r["node"]: r for r in records if r.get("kind") == "final" and r["epoch"] == plan.epoch(r["node"])}
        settled = Settled()
        undecided = []
        orphans = []
        waiting_long: list[tuple[str, int, int]] = []  # (node, attempt, transient) of ready/retrying tasks
        for node, task in tasks.items():
            state = task["state"]
            if state == st.PENDING and plan.epoch(node) == plan.attempt:
                deps = list(plan.tasks[node].deps)
                if deps and all(dep in finals for dep in deps) and all(_older(finals[d]["at"]) for d in deps):
                    undecided.append(node)
            elif (state == st.READY and _older(task["ready_at"])) or (
                state == st.RETRYING and task["ready_at"] is not None and _older(task["ready_at"])
            ):
                attempt = plan.base_attempts(node) + 1 if state == st.READY else task["attempts"] + 1
                waiting_long.append((node, attempt, task["transient_retries"]))
            elif state == st.RUNNING and task["executor"] not in live_executors:
                orphans.append(
                    Claim(
                        plan,
                        node,
                        task["attempts"] + 1,
                        plan.epoch(node),
                        transient=task["transient_retries"] + 1,  # a lost executor is not the task's fault
                        reason=f"lease expired: executor {task['executor']} stopped",
                    )
                )
        if waiting_long:
            await self._requeue_forgotten(plan, waiting_long)
        if undecided:
            log.warning("run %s: deciding %s, left undecided by a process that stopped", run_id, undecided)
            await self._decide(plan, undecided, finals, settled)
        await self._after(plan, settled)
        if not orphans and all(task["state"] in st.TASK_TERMINAL for task in tasks.values()):
            await self.finalize(run_id)
        return orphans

    # -- cancel and retry --------------------------------------------------------------

    async def _requeue_forgotten(self, plan: jr.RunPlan, waiting: list[tuple[str, int, int]]) -> None:
        """Queue again the long-waiting tasks that have no queue entry (waiting long is normal under a backlog)."""
        entries = await self.queue.find({"run_id": plan.run_id}, {"tasks": 1}).to_list()
        queued = {(task["node"], int(task["attempt"])) for entry in entries for task in unpack_tasks(entry)}
        for node, attempt, transient in waiting:
            if (node, attempt) not in queued:
                await self.enqueue(plan, [(node, attempt)], transient=transient)

    async def get_run(self, run_id: str) -> dict[str, Any]:
        run = await self.runs.find_one({"_id": run_id})
        if run is None:
            raise NotFound("run", run_id)
        return run

    async def cancel(self, run_id: str) -> dict[str, Any]:
        """Cancel a run: waiting tasks at once, running ones as soon as their executor sees the flag."""
        run = await self.get_run(run_id)
        if run["state"] in st.RUN_TERMINAL:
            raise Conflict(f"run {run_id} already ended ({run['state']})", details={"state": run["state"]})
        await self.runs.update_one({"_id": run_id}, {"$set": {"cancel_requested": True}})
        plan, tasks = await self.task_states(run)
        waiting = [node for node, task in tasks.items() if task["state"] in st.TASK_WAITING]
        await self.events.emit_all([task_event(plan, node, st.CANCELED, tasks[node]["attempts"]) for node in waiting])
        await self.record(
            run_id,
            [
                record(
                    "final", jr.final_id(node, plan.epoch(node)), node=node, epoch=plan.epoch(node), state=st.CANCELED
                )
                for node in waiting
            ],
        )
        if waiting:
            await self.queue.delete_many({"run_id": run_id})
        await self._cancel_children(run_id)
        await self.finalize(run_id)
        return await self.get_run(run_id)

    async def _cancel_children(self, run_id: str) -> None:
        for child in await self.runs.find(
            {"parent.run_id": run_id, "state": {"$in": list(st.RUN_ACTIVE)}}, {"_id": 1}
        ).to_list():
            with contextlib.suppress(Conflict):  # it ended meanwhile
                await self.cancel(child["_id"])

    async def retry(self, run_id: str, *, actor: str | None) -> dict[str, Any]:
        """Run the failed, canceled and upstream-failed tasks again, and what follows them; reuse the rest."""
        run = await self.get_run(run_id)
        if run["state"] not in (st.FAILED, st.CANCELED):
            raise Conflict(
                f"only a failed or canceled run can be retried; run {run_id} is {run['state']}",
                details={"state": run["state"]},
            )
        plan, tasks = await self.task_states(run)
        again = {node for node, task in tasks.items() if task["state"] in (st.FAILED, st.UPSTREAM_FAILED, st.CANCELED)}
        todo = list(again)
        while todo:
            for link in plan.tasks[todo.pop()].downstream:
                if link.node not in again:
                    again.add(link.node)
                    todo.append(link.node)
        attempt = int(run.get("attempt", 1)) + 1
        epochs = {f"epochs.{node}": [attempt, tasks[node]["attempts"]] for node in again}
        await self.runs.update_one(
            {"_id": run_id, "state": run["state"]},
            {
                "$set": {
                    "state": st.QUEUED,
                    "cancel_requested": False,
                    "finished_at": None,
                    "retried_by": actor,
                    "attempt": attempt,
                    **epochs,
                },
            },
        )
        self._plans.pop(run_id, None)
        retried = {**run, "attempt": attempt}
        await self.events.emit_all([run_event(retried, st.QUEUED, retry=True, tasks=sorted(again))])
        await self.start_queued(run["flow_id"])
        return await self.get_run(run_id)

    async def purge(self, before: datetime, artifacts: Any = None, *, dry_run: bool = False) -> list[str]:
        """Delete runs that ended before ``before``: their documents, journals and stored outputs.

        Cached outputs older than ``before`` go too (they may point at a
        purged run's artifacts). Returns the ids of the runs purged.
        """
        ended = await self.runs.find(
            {"state": {"$in": sorted(st.RUN_TERMINAL)}, "finished_at": {"$lt": before}}, {"_id": 1}
        ).to_list()
        run_ids = [run["_id"] for run in ended]
        if dry_run:
            return run_ids
        for run_id in run_ids:
            await self.journal(run_id).drop()
            if artifacts is not None:
                await asyncio.to_thread(artifacts.delete_prefix, f"{run_id}/")
        for start in range(0, len(run_ids), 500):
            await self.runs.delete_many({"_id": {"$in": run_ids[start : start + 500]}})
        await self.cache.delete_many({"created_at": {"$lt": before}})
        return run_ids

    async def active_runs(self, flow_id: str) -> list[str]:
        return [
            r["_id"]
            for r in await self.runs.find(
                {"flow_id": flow_id, "state": {"$in": list(st.RUN_ACTIVE)}}, {"_id": 1}
            ).to_list()
        ]


def _event_extra(final: dict[str, Any]) -> dict[str, Any]:
    extra: dict[str, Any] = {}
    if final.get("duration_ms") is not None:
        extra["duration_ms"] = final["duration_ms"]
    if final.get("cached"):
        extra["cached"] = True
    if final.get("error"):
        extra["error"] = final["error"].get("message")
    return extra


def _older(moment: datetime | None) -> bool:
    return moment is not None and (now_utc() - moment).total_seconds() > HEAL_AFTER_S


def executor_id() -> str:
    return f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"
