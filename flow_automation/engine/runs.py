"""Runs and task runs in MongoDB: creation, the state machine, cancel, retry, backfill.

One document per run (``runs``) and one per task (``tasks``, ``_id`` =
``"<run>:<node>"``). Every change is a single-document atomic update guarded
by the state it expects (FerretDB has no transactions), so concurrent API
replicas and executors never apply a transition twice.

**Why guards, not counters.** FerretDB 1.x applies an update by reading the
document, changing it and writing it back, with nothing stopping another
update in between: concurrent ``$inc`` lose increments and two
``findOneAndUpdate`` calls with the same filter can both "win" (measured
here: 8 clients doing 200 ``$inc`` left the counter at 37; 102 claims
succeeded for 50 tasks). What it does enforce atomically is a unique key on
insert. So every decision that several processes may race for is taken by
inserting a *guard* document with a deterministic ``_id`` into
``engine_guards``: whoever inserts ``claim:<task>:<attempt>`` runs that
attempt, whoever inserts ``settle:<task>:<epoch>`` settles what follows a
task, ``start:``/``final:`` start and end a run attempt. The document
updates that follow have a single writer. On MongoDB proper this costs one
insert per decision and stays correct.

How a task becomes runnable: when a task ends, the executor that ran it
settles its downstream tasks. A task with that one upstream is decided at
once (ready, skipped or upstream_failed, :func:`states.decide`). A task with
several upstreams (a join) is decided by the arrival that takes the last
*ticket*: each arriving upstream takes the lowest free ticket number at or
above a hint (a plain ``$inc``, which may lose increments but never runs
ahead), by inserting ``ticket:<task>:<epoch>:<n>``; tickets come out gap-free,
so exactly one arrival holds ticket N of N. The run ends the same way when
its last sink (a task nothing depends on) ends: every other task is upstream
of some sink.

Per-flow concurrency: a run starts only after inserting one of the flow's
``slot:<flow>:<k>`` documents in ``flow_slots`` (k below the flow's limit);
it deletes it when it ends.

**Why small collections.** FerretDB 1.x on SQLite answers a query by ``_id``
from an index, but any other filter, a sort, and every update scan the
collection (measured here: an update by ``_id`` costs 1.3 ms on 10
documents, 13 ms on 5,000). So what executors poll is kept small: ready
tasks wait in ``task_queue`` (read with no filter, a few at a time) and
leases belong to executors, not tasks: each executor heartbeats one document
in ``executors``, and only when one of those expires are the tasks it held
looked up (a scan, but only when an executor died). ``tasks`` itself is only read and
written by ``_id``, except to list one run's tasks.

Events are flushed to Kafka before the write that lets another process act
on them (see :mod:`flow_automation.engine.events`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from common.errors import Conflict, InvalidDefinition, NotFound
from common.settings import Settings
from flow_automation.engine import states as st
from flow_automation.engine.events import EventPublisher, run_event, task_event
from flow_automation.flows.graph import FlowGraph
from flow_automation.flows.model import FlowDefinition, parse_reference, resolve_params
from flow_automation.flows.schedule import cron_trigger, slots
from flow_automation.flows.store import FlowStore

log = logging.getLogger(__name__)

RUNS, TASKS, GUARDS, DEDUPE, CACHE = "runs", "tasks", "engine_guards", "run_dedupe", "node_cache"
QUEUE, EXECUTORS, SLOTS = "task_queue", "executors", "flow_slots"
#: Node types that run when any one side of a branch reached them (a join).
LENIENT_TYPES = frozenset({"noop"})
MAX_BACKFILL_RUNS = 1000
MAX_RETRY_DELAY_S = 3600.0
#: A slot held this long by a run that is still queued was taken by a process that died before starting it.
SLOT_START_GRACE_S = 60.0


def new_run_id() -> str:
    """Time-ordered ids, so "newest first" is an index order: ms timestamp + random."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


def now_utc() -> datetime:
    return datetime.now(UTC)


def history(state: str, **extra: Any) -> dict[str, Any]:
    return {"$push": {"history": {"state": state, "at": now_utc(), **extra}}}


def retry_delay(backoff_s: float, attempt: int) -> float:
    """Exponential backoff with +-20% jitter: ``backoff * 2**(attempt-1)``."""
    return min(MAX_RETRY_DELAY_S, backoff_s * 2 ** max(0, attempt - 1)) * random.uniform(0.8, 1.2)


class RunEngine:
    def __init__(self, db: AsyncDatabase, settings: Settings, events: EventPublisher, flows: FlowStore) -> None:
        self.db = db
        self.settings = settings
        self.events = events
        self.flows = flows
        self.runs = db[RUNS]
        self.tasks = db[TASKS]
        self.guards = db[GUARDS]
        self.queue = db[QUEUE]
        self.executors = db[EXECUTORS]
        self.slots = db[SLOTS]
        self.dedupe = db[DEDUPE]
        self.cache = db[CACHE]

    async def ensure_indexes(self) -> None:
        await self.tasks.create_index([("state", ASCENDING), ("ready_at", ASCENDING)])
        await self.tasks.create_index([("run_id", ASCENDING)])
        await self.runs.create_index([("flow_id", ASCENDING), ("state", ASCENDING)])
        await self.runs.create_index([("state", ASCENDING)])
        await self.guards.create_index([("run_id", ASCENDING)])

    async def guard(self, key: str, **fields: Any) -> bool:
        """Take the decision named ``key``: True for exactly one caller, ever (a unique insert)."""
        try:
            await self.guards.insert_one({"_id": key, "at": now_utc(), **fields})
        except DuplicateKeyError:
            return False
        return True

    async def ticket(self, collection: Any, doc_id: str, counter: str, prefix: str) -> tuple[int, dict[str, Any]]:
        """The lowest free ticket ``prefix:<n>`` at or above the hint counter; returns (n, the counted document)."""
        counted = await collection.find_one_and_update(
            {"_id": doc_id}, {"$inc": {counter: 1}}, return_document=ReturnDocument.AFTER
        )
        if counted is None:
            raise NotFound("document", doc_id)
        number = max(1, int(counted.get(counter, 1)))
        while not await self.guard(f"{prefix}:{number}"):
            number += 1
        return number, counted

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
            "parent": parent,
            "scheduled_time": scheduled_time,
            "concurrency": flow.concurrency,
            "cancel_requested": False,
            "open_sinks": len(FlowGraph.of(flow).sinks()),
            "sinks_arrived": 0,
            "slot": None,
            "dedupe_key": dedupe_key,
        }
        partition, offset = await self.events.publish_async(run_event(run, st.QUEUED, version=version_number))
        run["events"] = {"partition": partition, "offset": offset}
        await self.runs.insert_one(run)
        await self.tasks.insert_many(build_tasks(run, flow))
        await self.start_queued(flow_id, flow.concurrency)
        return await self.runs.find_one({"_id": run_id}) or run, True

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
            key = f"start:{run['_id']}:{run.get('attempt', 1)}"
            if not await self.guard(key, run_id=run["_id"]):
                await self.slots.delete_one({"_id": slot})
                if await self._stale(key):
                    # Its winner died before marking the run running: free the decision and try again.
                    await self.guards.delete_one({"_id": key})
                    continue
                return started  # another process is starting this run
            await self._start(run, slot)
            started += 1

    async def _stale(self, key: str) -> bool:
        guard = await self.guards.find_one({"_id": key})
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
        roots = await self.tasks.find(
            {"run_id": run["_id"], "state": st.PENDING, "waiting": 0},
            {"node_id": 1, "run_id": 1, "flow_id": 1, "attempts": 1},
        ).to_list()
        await self.events.emit_all([run_event(run, st.RUNNING), *[task_event(t, st.READY) for t in roots]])
        await self.tasks.update_many(
            {"_id": {"$in": [t["_id"] for t in roots]}, "state": st.PENDING},
            {"$set": {"state": st.READY, "ready_at": now_utc()}, **history(st.READY)},
        )
        await self.enqueue(roots)

    async def enqueue(self, tasks: list[dict[str, Any]], due: datetime | None = None) -> None:
        """Put tasks on the claim queue (``task_queue``, kept small: claimed entries leave it)."""
        if not tasks:
            return
        moment = due or now_utc()
        entries = [
            {"_id": task["_id"], "run_id": task["run_id"], "attempts": task.get("attempts", 0), "due": moment}
            for task in tasks
        ]
        with contextlib.suppress(BulkWriteError):  # an entry already queued stays as it is
            await self.queue.insert_many(entries, ordered=False)

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

    # -- settling tasks ----------------------------------------------------------------

    async def settle_downstream(
        self, finished: dict[str, Any], state: str, produced: list[str], *, handoff_owner: str | None = None
    ) -> dict[str, Any] | None:
        """Decide the downstream tasks of a task that just ended with ``state``.

        Returns a downstream task claimed for ``handoff_owner`` (the executor
        that ran ``finished`` goes straight on with it: no claim round trip),
        or ``None``.
        """
        if not await self.guard(f"settle:{finished['_id']}:{finished.get('epoch', 1)}", run_id=finished["run_id"]):
            return None  # settled already (by an executor whose lease on this task ran out)
        worklist: list[tuple[dict[str, Any], str, list[str]]] = [(finished, state, produced)]
        ready: list[dict[str, Any]] = []
        decided: list[tuple[dict[str, Any], str]] = []
        sinks_done = 0
        while worklist:
            task, task_state, task_outputs = worklist.pop()
            if not task.get("downstream"):
                sinks_done += 1
            for link in task.get("downstream", []):
                target, decision = await self._decide_link(task, task_state, task_outputs, link)
                if target is None:
                    continue
                if decision == st.READY:
                    ready.append(target)
                else:
                    decided.append((target, decision))
                    worklist.append((target, decision, []))
        handed_off = await self._apply(ready, decided, handoff_owner)
        for _ in range(sinks_done):
            await self._sink_done(finished["run_id"])
        return handed_off

    async def _decide_link(
        self, task: dict[str, Any], task_state: str, task_outputs: list[str], link: dict[str, Any]
    ) -> tuple[dict[str, Any] | None, str]:
        target_id = f"{task['run_id']}:{link['node']}"
        if link["single"]:
            decision = st.decide(
                {task["node_id"]: (task_state, task_outputs)},
                {task["node_id"]: link["consumes"]},
                lenient=link["lenient"],
            )
            stub = {
                "_id": target_id,
                "run_id": task["run_id"],
                "flow_id": task["flow_id"],
                "node_id": link["node"],
                "attempts": 0,
            }
            if decision == st.READY:
                return stub, decision
            target = await self.tasks.find_one({"_id": target_id, "state": st.PENDING})
            return target, decision
        epoch = task.get("epoch", 1)
        number, target = await self.ticket(self.tasks, target_id, "arrived", f"ticket:{target_id}:{epoch}")
        if number < target.get("waiting", 0) or target["state"] != st.PENDING:
            return None, st.PENDING
        upstream = await self.tasks.find(
            {"_id": {"$in": [f"{task['run_id']}:{dep['node']}" for dep in target["deps"]]}},
            {"node_id": 1, "state": 1, "output_keys": 1},
        ).to_list()
        results = {u["node_id"]: (u["state"], u.get("output_keys", [])) for u in upstream}
        consumes = {dep["node"]: dep["consumes"] for dep in target["deps"]}
        return target, st.decide(results, consumes, lenient=target.get("lenient", False))

    async def _apply(
        self, ready: list[dict[str, Any]], decided: list[tuple[dict[str, Any], str]], handoff_owner: str | None
    ) -> dict[str, Any] | None:
        handoff = ready[0] if ready and handoff_owner else None
        events = [task_event(task, state) for task, state in decided]
        events += [task_event(task, st.READY) for task in ready]
        if handoff is not None:
            events.append(task_event({**handoff, "attempts": 1}, st.RUNNING, executor=handoff_owner))
        await self.events.emit_all(events)
        finished_at = now_utc()
        if decided:
            await self.tasks.bulk_write(
                [
                    UpdateOne(
                        {"_id": task["_id"], "state": st.PENDING},
                        {"$set": {"state": state, "finished_at": finished_at}, **history(state)},
                    )
                    for task, state in decided
                ]
            )
        others = [task for task in ready if task is not handoff]
        if others:
            await self.tasks.update_many(
                {"_id": {"$in": [task["_id"] for task in others]}, "state": st.PENDING},
                {"$set": {"state": st.READY, "ready_at": finished_at}, **history(st.READY)},
            )
            await self.enqueue(others)
        if handoff is None:
            return None
        claimed = await self.tasks.find_one_and_update(
            {"_id": handoff["_id"], "state": st.PENDING},
            {
                "$set": {
                    **self.lease_fields(handoff_owner or ""),
                    "state": st.RUNNING,
                    "started_at": finished_at,
                    "ready_at": finished_at,
                },
                "$inc": {"attempts": 1},
                "$push": {
                    "history": {
                        "$each": [
                            {"state": st.READY, "at": finished_at},
                            {"state": st.RUNNING, "at": finished_at, "executor": handoff_owner},
                        ]
                    }
                },
            },
            return_document=ReturnDocument.AFTER,
        )
        return claimed

    def lease_fields(self, owner: str) -> dict[str, Any]:
        return {"lease_owner": owner, "lease_expires": now_utc() + timedelta(seconds=self.settings.executor_lease_s)}

    async def _sink_done(self, run_id: str) -> None:
        attempt = (await self.runs.find_one({"_id": run_id}, {"attempt": 1}) or {}).get("attempt", 1)
        number, run = await self.ticket(self.runs, run_id, "sinks_arrived", f"sinks:{run_id}:{attempt}")
        if number >= run.get("open_sinks", 0):
            await self.finalize(run_id)

    async def finalize(self, run_id: str) -> bool:
        """End the run if every task is terminal; returns whether this call ended it."""
        run = await self.runs.find_one({"_id": run_id})
        if run is None or run["state"] in st.RUN_TERMINAL:
            return False
        tasks = await self.tasks.find({"run_id": run_id}, {"state": 1}).to_list()
        counts: dict[str, int] = {}
        for task in tasks:
            counts[task["state"]] = counts.get(task["state"], 0) + 1
        if any(state not in st.TASK_TERMINAL for state in counts):
            return False
        if run.get("cancel_requested"):
            final = st.CANCELED
        elif counts.get(st.FAILED) or counts.get(st.UPSTREAM_FAILED) or counts.get(st.CANCELED):
            final = st.FAILED
        else:
            final = st.SUCCEEDED
        if not await self.guard(f"final:{run_id}:{run.get('attempt', 1)}", run_id=run_id):
            return False
        finished_at = now_utc()
        await self.runs.update_one(
            {"_id": run_id}, {"$set": {"state": final, "finished_at": finished_at, "task_counts": counts, "slot": None}}
        )
        await self.events.emit_all([run_event(run, final, task_counts=counts)])
        if run.get("slot"):
            await self.slots.delete_one({"_id": run["slot"], "run_id": run_id})
        await self.flows.set_fields(
            run["flow_id"], {"last_run": {"id": run_id, "state": final, "finished_at": finished_at}}
        )
        await self.start_queued(run["flow_id"])
        return True

    # -- cancel and retry --------------------------------------------------------------

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
        waiting = await self.tasks.find(
            {"run_id": run_id, "state": {"$in": list(st.TASK_WAITING)}},
            {"node_id": 1, "run_id": 1, "flow_id": 1, "attempts": 1},
        ).to_list()
        await self.events.emit_all([task_event(task, st.CANCELED) for task in waiting])
        await self.tasks.update_many(
            {"_id": {"$in": [t["_id"] for t in waiting]}, "state": {"$in": list(st.TASK_WAITING)}},
            {"$set": {"state": st.CANCELED, "finished_at": now_utc()}, **history(st.CANCELED)},
        )
        if waiting:
            await self.queue.delete_many({"_id": {"$in": [t["_id"] for t in waiting]}})
        await self.tasks.update_many({"run_id": run_id, "state": st.RUNNING}, {"$set": {"cancel_requested": True}})
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
        tasks = await self.tasks.find({"run_id": run_id}).to_list()
        by_node = {task["node_id"]: task for task in tasks}
        again = {
            node for node, task in by_node.items() if task["state"] in (st.FAILED, st.UPSTREAM_FAILED, st.CANCELED)
        }
        todo = list(again)
        while todo:
            for link in by_node[todo.pop()].get("downstream", []):
                if link["node"] not in again:
                    again.add(link["node"])
                    todo.append(link["node"])
        writes = []
        for node in again:
            task = by_node[node]
            waiting = sum(1 for dep in task["deps"] if dep["node"] in again)
            writes.append(
                UpdateOne(
                    {"_id": task["_id"]},
                    {
                        "$set": {
                            "state": st.PENDING,
                            "waiting": waiting,
                            "arrived": 0,
                            "epoch": run.get("attempt", 1) + 1,
                            "error": None,
                            "cancel_requested": False,
                            "attempt_limit": task.get("attempts", 0) + task["spec"]["retries"] + 1,
                            "finished_at": None,
                            "lease_owner": None,
                        },
                        **history(st.PENDING, reason="retry"),
                    },
                )
            )
        if writes:
            await self.tasks.bulk_write(writes)
        open_sinks = sum(1 for node in again if not by_node[node].get("downstream"))
        await self.runs.update_one(
            {"_id": run_id, "state": run["state"]},
            {
                "$set": {
                    "state": st.QUEUED,
                    "cancel_requested": False,
                    "finished_at": None,
                    "open_sinks": open_sinks,
                    "sinks_arrived": 0,
                    "retried_by": actor,
                },
                "$inc": {"attempt": 1},
            },
        )
        retried = {**run, "attempt": run.get("attempt", 1) + 1}
        await self.events.emit_all([run_event(retried, st.QUEUED, retry=True, tasks=sorted(again))])
        await self.start_queued(run["flow_id"])
        return await self.get_run(run_id)

    async def active_runs(self, flow_id: str) -> list[str]:
        return [
            r["_id"]
            for r in await self.runs.find(
                {"flow_id": flow_id, "state": {"$in": list(st.RUN_ACTIVE)}}, {"_id": 1}
            ).to_list()
        ]


def build_tasks(run: dict[str, Any], flow: FlowDefinition) -> list[dict[str, Any]]:
    """One task document per node, with the links the engine settles downstream tasks by."""
    graph = FlowGraph.of(flow)
    consumes: dict[str, dict[str, list[str]]] = {node.id: {} for node in flow.nodes}
    for node in flow.nodes:
        for upstream in graph.upstream[node.id]:
            consumes[node.id].setdefault(upstream, [])
        for reference in node.inputs.values():
            parsed = parse_reference(reference)
            if parsed and parsed[0] != "params":
                consumes[node.id].setdefault(parsed[0], []).append(parsed[1])
    lenient = {node.id: node.type in LENIENT_TYPES for node in flow.nodes}
    created = now_utc()
    documents = []
    for node in flow.nodes:
        upstream = graph.upstream[node.id]
        documents.append(
            {
                "_id": f"{run['_id']}:{node.id}",
                "run_id": run["_id"],
                "flow_id": run["flow_id"],
                "node_id": node.id,
                "type": node.type,
                "state": st.PENDING,
                "attempts": 0,
                "attempt_limit": node.retries + 1,
                "waiting": len(upstream),
                "arrived": 0,
                "epoch": 1,
                "deps": [{"node": up, "consumes": consumes[node.id][up]} for up in upstream],
                "downstream": [
                    {
                        "node": down,
                        "single": len(graph.upstream[down]) == 1,
                        "consumes": consumes[down][node.id],
                        "lenient": lenient[down],
                    }
                    for down in graph.downstream[node.id]
                ],
                "lenient": lenient[node.id],
                "spec": node.model_dump(
                    mode="json", include={"config", "inputs", "retries", "retry_backoff_s", "timeout_s", "cache"}
                ),
                "ready_at": None,
                "created_at": created,
                "history": [{"state": st.PENDING, "at": created}],
            }
        )
    return documents


def executor_id() -> str:
    return f"{os.uname().nodename}-{os.getpid()}-{secrets.token_hex(3)}"
