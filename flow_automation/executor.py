"""``python -m flow_automation.executor``: claims ready tasks and runs their node types.

Any number of executor processes share the work through MongoDB; every
decision is a unique record in the run's journal (see
:mod:`flow_automation.engine.runs` and :mod:`flow_automation.engine.journal`):

- **Claim**: a due entry of ``task_queue`` is taken by inserting its
  ``claim:<node>:<attempt>`` record (several at once, one batch per run).
  When a task ends and makes a downstream task ready, the executor claims
  that one in the same batch as the end (a *handoff*): a chain advances
  without a poll.
- **Heartbeat**: the executor's lease (one document in ``executors``) is
  extended every few seconds; the same beat notices cancel requests and
  passes them to the node (``context.cancelled``) and saves the task log so far.
- **Takeover and healing**: attempts held by an executor whose lease ran out
  (killed, or cut off) are claimed again with their attempt count raised,
  and steps a dead process left half done are finished (:meth:`RunEngine.heal`).
- **Back off**: when MongoDB or Kafka is unreachable, the loops wait and
  retry with growing delays; nothing is lost, since every state lives in MongoDB.

Node ``run`` functions block (pandas, HTTP, SQL), so they run in a thread
pool of ``DATAFLOW_EXECUTOR_CONCURRENCY`` threads. A task's ``timeout_s``
fails its attempt when exceeded; the node sees ``context.cancelled`` set and
is expected to stop (a thread cannot be killed, so it is abandoned).
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import contextvars
import hashlib
import json
import logging
import random
import signal
import threading
import time
import traceback
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bson.errors import InvalidDocument
from pydantic import ValidationError
from pymongo.errors import OperationFailure

from common import gc_tuning
from common.errors import DependencyUnavailable
from common.kafka import TRANSIENT_KAFKA_ERRORS
from common.logging import configure_logging
from common.mongo import TRANSIENT_MONGO_ERRORS, create_mongo_client, default_database
from common.settings import Settings, get_settings
from common.sharding import owner_of
from flow_automation.engine import journal as jr
from flow_automation.engine import states as st
from flow_automation.engine.doorbell import DoorbellListener
from flow_automation.engine.events import EventPublisher
from flow_automation.engine.outputs import ArtifactStore, preview
from flow_automation.engine.runs import (
    PLAN_FIELDS,
    QUEUE,
    QUEUE_CHUNK,
    Claim,
    RunEngine,
    executor_id,
    now_utc,
    pack_tasks,
    queue_entry_id,
    record,
    retry_delay,
    task_event,
    unpack_tasks,
)
from flow_automation.flows.store import FlowStore
from flow_automation.node_services import ExecutorServices
from flow_automation.node_types import NodeCanceled, NodeContext, NodeError, get_node_type, registry

log = logging.getLogger("dataflow.executor")

#: Queue entries taken with more tasks than free slots, each with the tasks it puts back.
Leftover = list[tuple[dict[str, Any], list[dict[str, Any]]]]

PARAMS_CACHE_SIZE = 1000
#: Node configs parsed lately, by type and config: parsing a python node's config compiles its program
#: under the sandbox policy (about 0.5 ms), the same for every run of a flow version.
CONFIG_CACHE_SIZE = 1024
#: Outputs of tasks this executor ended lately, kept for the tasks it hands off to (no read back).
RECENT_OUTPUTS = 256
#: A claim trusts a run's state (running, not canceled) looked up this long ago.
RUN_CHECK_S = 1.0
#: How often running runs are checked for work a dead process left half done.
HEAL_INTERVAL_S = 15.0
#: Queue entries read per claim (the head of the queue), at least, and per live executor: when another executor
#: wins one, the next is tried, and each executor finds some it owns. Few, because FerretDB decodes every entry
#: it returns: reading 32 entries to take one or two cost a wide fan-out's claims about 6.5 ms each, and a
#: third of FerretDB's time.
CLAIM_CANDIDATES = 8
CLAIM_CANDIDATES_PER_EXECUTOR = 2
#: Entries read past the head when none at the head is due (tasks waiting out a retry's backoff fill it).
CLAIM_CANDIDATES_DUE = 32
#: How long a claim waits at most for slots about to free (tasks whose end is being recorded) to claim them too.
CLAIM_GATHER_S = 0.01
#: A dependency down (coderunner, a broker) retries the task this many times beyond its own retries.
MAX_TRANSIENT_RETRIES = 10
DEPENDENCY_DOWN = "dependency_down"  # an attempt's outcome, never a stored state
MAX_LOG_LINES = 2000
MAX_LOG_LINE_CHARS = 4000
TRANSIENT = (*TRANSIENT_MONGO_ERRORS, *TRANSIENT_KAFKA_ERRORS)

#: The task a worker thread is running, for the subflow runner.
CURRENT_TASK: contextvars.ContextVar[RunningTask] = contextvars.ContextVar("current_task")


class TaskLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The logger a node writes to: lines kept for the task's log, and passed on at debug level."""

    def __init__(self, logger: logging.Logger, lines: list[str]) -> None:
        super().__init__(logger, {})
        self.lines = lines

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        text = str(msg) % args if args else str(msg)
        if kwargs.get("exc_info"):
            text += "\n" + traceback.format_exc()
        self.append(logging.getLevelName(level), text)
        self.logger.debug("%s", text)

    def append(self, level: str, text: str) -> None:
        if len(self.lines) < MAX_LOG_LINES:
            stamp = datetime.now().astimezone().isoformat(timespec="milliseconds")
            self.lines.append(f"{stamp} {level} {text[:MAX_LOG_LINE_CHARS]}")
        elif len(self.lines) == MAX_LOG_LINES:
            self.lines.append(f"... log truncated after {MAX_LOG_LINES} lines")


@dataclass
class RunningTask:
    claim: Claim
    #: Seen by the node's thread (``context.cancelled``).
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: Seen by the executor, which stops waiting for the thread at once.
    cancel_seen: asyncio.Event = field(default_factory=asyncio.Event)
    lines: list[str] = field(default_factory=list)
    saved_lines: int = 0
    log_chunks: int = 0
    started: float = field(default_factory=time.monotonic)
    started_at: datetime = field(default_factory=now_utc)
    #: Its node returned; its end is being recorded (its slot frees within a round trip or two).
    ending: bool = False

    @property
    def id(self) -> str:
        return self.claim.id

    @property
    def run_id(self) -> str:
        return self.claim.plan.run_id


class Attempt(Exception):
    """How an attempt ended, when not with outputs."""

    def __init__(self, state: str, error: dict[str, Any]) -> None:
        super().__init__(error.get("message"))
        self.state = state
        self.error = error


class Executor:
    def __init__(self, settings: Settings, *, concurrency: int | None = None) -> None:
        self.settings = settings
        self.id = executor_id()
        self.capacity = concurrency or settings.executor_concurrency
        self.client = create_mongo_client(settings)
        self.db = default_database(self.client)
        self.events = EventPublisher(settings)
        self.flows = FlowStore(self.db)
        self.engine = RunEngine(self.db, settings, self.events, self.flows)
        self.artifacts = ArtifactStore(settings)
        self.services = ExecutorServices(settings, subflow_runner=self._run_subflow)
        self.pool = concurrent.futures.ThreadPoolExecutor(self.capacity + 4, thread_name_prefix="node")
        self.active: dict[str, RunningTask] = {}
        self.slot_freed = asyncio.Event()
        self.end_recorded = asyncio.Event()  # a task whose end was being recorded left its slot
        self.stopping = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._workers: set[asyncio.Task[None]] = set()
        self._params_cache: dict[str, dict[str, Any]] = {}
        self._params_loading: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._recent_outputs: dict[str, dict[str, Any]] = {}
        self._configs: OrderedDict[tuple[str, str], Any] = OrderedDict()
        self._run_checks: dict[str, tuple[float, int | None]] = {}
        #: The executors with a lease, as of the last sweep: queue entries are shared among them.
        self._members: set[str] = set()

    # -- lifecycle ---------------------------------------------------------------

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        # Import every node type now (a tenth of a second) rather than inside the first task.
        await asyncio.to_thread(registry)
        await self._until_ready()
        loop = self.loop
        doorbell = DoorbellListener(self.settings, lambda _runs: loop.call_soon_threadsafe(self.slot_freed.set))
        doorbell.start()
        await self._renew_lease()
        gc_tuning.settle()
        log.info("executor %s started (%d slots)", self.id, self.capacity)
        loops = [
            asyncio.create_task(self._forever(self._claim_loop, "claim")),
            asyncio.create_task(self._forever(self._heartbeat_loop, "heartbeat")),
            asyncio.create_task(self._forever(self._sweep_loop, "sweep")),
        ]
        await self.stopping.wait()
        doorbell.stop()
        log.info("executor %s stopping; %d task(s) still running", self.id, len(self.active))
        for task in loops:
            task.cancel()
        if self._workers:
            await asyncio.wait(self._workers, timeout=self.settings.shutdown_grace_s)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.engine.arrivals_made(), self.settings.shutdown_grace_s)
        await self._release_leases()
        await self._drop_lease()
        self.services.close()
        self.events.close()
        self.pool.shutdown(wait=False, cancel_futures=True)
        await self.client.close()

    async def _until_ready(self) -> None:
        delay = 0.5
        while not self.stopping.is_set():
            try:
                await self.db.command("ping")
                await asyncio.to_thread(self.events.ensure_topics)
                await self.engine.ensure_indexes()
                return
            except TRANSIENT as exc:
                log.warning("waiting for MongoDB and Kafka: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _forever(self, body: Any, name: str) -> None:
        """Run one of the loops, backing off while a dependency is down; an unexpected error is logged, not fatal."""
        delay = 0.2
        while not self.stopping.is_set():
            try:
                await body()
                delay = 0.2
            except asyncio.CancelledError:
                raise
            except TRANSIENT as exc:
                log.warning("%s loop: MongoDB or Kafka unreachable (%s); retrying in %.1fs", name, exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            except Exception:
                log.exception("%s loop failed; retrying in %.1fs", name, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def _release_leases(self) -> None:
        """On shutdown, give unfinished attempts back at once instead of letting the lease run out."""
        if not self.active:
            return
        try:
            for running in list(self.active.values()):
                # The unfinished attempt does not count against the task's retries.
                error = {"type": "Interrupted", "message": f"executor {self.id} stopped"}
                await self._retry_later(running, error, now_utc(), transient_next=running.claim.transient + 1)
        except TRANSIENT:
            log.warning("could not hand back %d task(s); their lease will expire", len(self.active))

    async def _drop_lease(self) -> None:
        with contextlib.suppress(*TRANSIENT):
            await self.engine.executors.delete_one({"_id": self.id})

    # -- claiming --------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        idle = 0.01
        while not self.stopping.is_set():
            free = self.capacity - len(self.active)
            if free <= 0:
                self.slot_freed.clear()
                await self.slot_freed.wait()
                continue
            claims, done = await self._claim(await self._gather_slots(free))
            for claim in claims:
                self._spawn(claim)
            await self._clear_taken(*done)  # the tasks run meanwhile; the queue is read again after it
            if not claims:
                self.slot_freed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.slot_freed.wait(), idle)
                idle = min(idle * 2, self.settings.executor_poll_s)
                continue
            idle = 0.01

    async def _gather_slots(self, free: int) -> int:
        """The free slots to claim for, after waiting (``CLAIM_GATHER_S`` at most) for those about to free.

        Short tasks end in bursts; claiming for each slot as it frees took one
        queue read, entry delete and put-back of the entry's rest per task or
        two, all on FerretDB's one write lock. Slots whose task is only
        recording its end are claimed for together, one entry at a time; a
        slot held by a task still running is not waited for.
        """
        deadline = time.monotonic() + CLAIM_GATHER_S
        while free < QUEUE_CHUNK and any(running.ending for running in self.active.values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.end_recorded.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.end_recorded.wait(), remaining)
            free = self.capacity - len(self.active)
        return free

    async def _claim(self, free: int) -> tuple[list[Claim], tuple[list[dict[str, Any]], Leftover]]:
        """Up to ``free`` due tasks from ``task_queue``, each claimed by inserting its claim record; and the
        entries taken with what is left of each, for :meth:`_clear_taken` once the claims have started.

        Entries hold several tasks. Executors read the same head of the
        queue, so each takes the entries it owns first (:func:`own_first`),
        then random ones of the others, and seldom collides with them; tasks
        of a taken entry beyond the free slots go back in a new entry, put
        there by every executor that took it. Executors with
        the same number of free slots put back the same entry (its ``_id``
        names its first task and size); a task queued twice is claimed once.
        Leaving it to the winner of the entry's first task would lose the
        rest when nobody wins it: an entry queued again by healing, or left
        over by another executor, may start with a task claimed long ago.
        """
        moment = now_utc()
        head = min(CLAIM_CANDIDATES_DUE, max(CLAIM_CANDIDATES, CLAIM_CANDIDATES_PER_EXECUTOR * len(self._members)))
        entries = await self.engine.queue.find({}).limit(head).to_list()
        if len(entries) == head and all(entry["due"] > moment for entry in entries):
            # The head is all retries backing off: due tasks behind it are found with a filter (FerretDB
            # decodes the whole queue for it, so only then).
            entries = await self.engine.queue.find({"due": {"$lte": moment}}).limit(CLAIM_CANDIDATES_DUE).to_list()
        due = own_first([entry for entry in entries if entry["due"] <= moment], self._members, self.id)
        taken: list[dict[str, Any]] = []
        wanted: dict[str, list[dict[str, Any]]] = {}
        leftover: Leftover = []
        for entry in due:
            if free <= 0:
                break
            tasks = unpack_tasks(entry)
            taken.append(entry)
            wanted.setdefault(entry["run_id"], []).extend(tasks[:free])
            if len(tasks) > free:
                leftover.append((entry, tasks[free:]))
            free -= len(tasks)
        if not taken:
            return [], ([], [])
        claims: list[Claim] = []
        for run_id, tasks in wanted.items():
            run_attempt = max(int(entry.get("run_attempt", 1)) for entry in taken if entry["run_id"] == run_id)
            claims += await self._claim_in_run(run_id, run_attempt, tasks)
        return claims, (taken, leftover)

    async def _clear_taken(self, taken: list[dict[str, Any]], leftover: Leftover) -> None:
        """Put back the tasks of taken entries beyond the free slots, then delete the entries.

        Their claims are recorded already, so the claimed tasks start first: a
        run's first task waited for these two writes. An entry still there a
        moment longer only costs another executor a lost claim."""
        if leftover:
            await self.engine.writer.insert(
                QUEUE,
                [
                    {
                        **entry,
                        "_id": queue_entry_id(entry["run_id"], rest[0]["node"], rest[0]["attempt"], len(rest)),
                        "tasks": pack_tasks(rest),
                    }
                    for entry, rest in leftover
                ],
            )
        # One delete per entry: FerretDB's SQLite backend matches a single _id in SQL (about a microsecond
        # per stored entry) but decodes every entry for an $in (tens of microseconds each), and a delete
        # holds the database's write lock, which every journal insert waits for.
        for entry in taken:
            await self.engine.queue.delete_one({"_id": entry["_id"]})

    async def _claim_in_run(self, run_id: str, run_attempt: int, tasks: list[dict[str, Any]]) -> list[Claim]:
        attempt, run = await self._running_attempt(run_id)
        if attempt is None:
            return []  # ended (canceled) since its tasks were queued
        plan = await self.engine.plan(run_id, max(attempt, run_attempt), run=run)
        candidates = [
            Claim(plan, task["node"], int(task["attempt"]), int(task["epoch"]), transient=int(task.get("transient", 0)))
            for task in tasks
            if task["node"] in plan.tasks and int(task["epoch"]) == plan.epoch(task["node"])
        ]
        won = await self.engine.record(run_id, [claim.claim_record(self.id) for claim in candidates])
        claims = [claim for claim, inserted in zip(candidates, won, strict=True) if inserted]
        for claim in claims:
            self.events.emit(task_event(plan, claim.node, st.RUNNING, claim.attempt, executor=self.id))
        return claims

    async def _running_attempt(self, run_id: str) -> tuple[int | None, dict[str, Any] | None]:
        """The run's attempt while it runs and is not being canceled (looked up at most once a second),
        and the run document when it was read now: it has what the run's plan is built from, so the
        first claim of a run reads it once."""
        checked = self._run_checks.get(run_id)
        run = None
        if checked is None or time.monotonic() - checked[0] > RUN_CHECK_S:
            run = await self.engine.runs.find_one({"_id": run_id}, {"cancel_requested": 1, **PLAN_FIELDS})
            running = run is not None and run["state"] == st.RUNNING and not run.get("cancel_requested")
            checked = (time.monotonic(), int(run.get("attempt", 1)) if running and run else None)
            if len(self._run_checks) > PARAMS_CACHE_SIZE:
                self._run_checks.clear()
            self._run_checks[run_id] = checked
        return checked[1], run

    def _spawn(self, claim: Claim) -> None:
        running = RunningTask(claim)
        self.active[running.id] = running
        worker = asyncio.create_task(self._work(running))
        self._workers.add(worker)
        worker.add_done_callback(self._workers.discard)

    async def _work(self, running: RunningTask) -> None:
        """Run a task, then any task handed off to this executor when it ended."""
        current: RunningTask | None = running
        try:
            while current is not None:
                handoff = await self._execute(current)
                self.active.pop(current.id, None)
                self.end_recorded.set()
                current = None
                if handoff is not None:
                    current = RunningTask(handoff)
                    self.active[current.id] = current
        except TRANSIENT as exc:
            log.warning("lost MongoDB or Kafka while finishing a task (%s); its lease will expire", exc)
        except Exception:
            log.exception("executor failure while handling task %s", current.id if current else running.id)
        finally:
            if current is not None:
                self.active.pop(current.id, None)
            self.end_recorded.set()
            self.slot_freed.set()

    # -- one attempt -----------------------------------------------------------------

    async def _execute(self, running: RunningTask) -> Claim | None:
        claim = running.claim
        try:
            if claim.attempt > claim.attempt_limit:
                raise Attempt(st.FAILED, {"type": "TooManyAttempts", "message": "the task ran out of attempts"})
            params, inputs, refs = await self._inputs(claim)
            outputs, cached = await self._outputs(running, params, inputs, refs)
        except Attempt as ended:
            running.ending = True
            return await self._end_without_outputs(running, ended)
        running.ending = True
        return await self._succeed(running, outputs, cached)

    async def _inputs(self, claim: Claim) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The run's params, the task's input values, and the stored references of those from upstream."""
        params = await self._params(claim.plan.run_id)
        references: dict[str, str] = claim.spec.spec["inputs"]
        if not references:
            return params, {}, {}
        sources = sorted({ref.split(".", 1)[0] for ref in references.values() if not ref.startswith("params.")})
        upstream: dict[str, dict[str, Any]] = {}
        missing = []
        for source in sources:
            key = f"{claim.plan.run_id}:{source}:{claim.plan.epoch(source)}"
            if key in self._recent_outputs:
                upstream[source] = self._recent_outputs[key]
            else:
                missing.append(source)
        if missing:
            finals = await self.engine.finals(claim.plan, missing)
            upstream.update({node: final.get("outputs") or {} for node, final in finals.items()})
        stored: dict[str, Any] = {}
        values: dict[str, Any] = {}
        for name, reference in references.items():
            source, output = reference.split(".", 1)
            if source == "params":
                values[name] = params.get(output)
            elif output in upstream.get(source, {}):
                stored[name] = upstream[source][output]
        if stored:
            decoded = await asyncio.to_thread(lambda: {n: self.artifacts.decode(ref) for n, ref in stored.items()})
            values.update(decoded)
        return params, values, stored

    async def _params(self, run_id: str) -> dict[str, Any]:
        """A run's params (immutable once the run exists), cached per run; tasks of a run starting
        together share one read (a fan-out starts eight at once on every executor)."""
        if run_id in self._params_cache:
            return self._params_cache[run_id]
        loading = self._params_loading.get(run_id)
        if loading is None:
            loading = self._params_loading[run_id] = asyncio.ensure_future(self._load_params(run_id))
            loading.add_done_callback(lambda _: self._params_loading.pop(run_id, None))
        return await asyncio.shield(loading)

    async def _load_params(self, run_id: str) -> dict[str, Any]:
        run = await self.engine.runs.find_one({"_id": run_id}, {"params": 1})
        if len(self._params_cache) >= PARAMS_CACHE_SIZE:
            self._params_cache.pop(next(iter(self._params_cache)))
        params = self._params_cache[run_id] = (run or {}).get("params", {})
        return params

    async def _outputs(
        self, running: RunningTask, params: dict[str, Any], inputs: dict[str, Any], refs: dict[str, Any]
    ) -> tuple[tuple[dict[str, Any], dict[str, Any]], bool]:
        """((stored outputs, previews), whether they came from the cache)."""
        claim = running.claim
        spec = claim.spec
        cache_key = _cache_key(spec, inputs, refs) if spec.spec.get("cache") else None
        if cache_key:
            hit = await self.engine.cache.find_one({"_id": cache_key})
            if hit is not None:
                return (hit["outputs"], hit.get("preview", {})), True
        node_type = get_node_type(spec.type)
        if node_type is None:
            raise Attempt(st.FAILED, {"type": "UnknownNodeType", "message": f"unknown node type {spec.type!r}"})
        context = NodeContext(
            run_id=claim.plan.run_id,
            node_id=claim.node,
            config=self._config(node_type, spec),
            params=params,
            log=TaskLog(log, running.lines),
            attempt=claim.attempt,
            timeout_s=spec.spec.get("timeout_s"),
            cancelled=running.cancelled,
            services=self.services,
        )
        if node_type.instant and not inputs:
            # Nothing to wait for or to encode (a join, a no-op): no worker thread round trip.
            try:
                result = node_type.run(context, inputs)
                encoded = self._encode(claim, result)
            except Exception as exc:  # noqa: BLE001 - fails the attempt, as from a worker thread
                error = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__}
                raise Attempt(st.FAILED, error) from None
        else:
            # Encoded in the node's thread, right after it ran: one thread round trip per task, not two.
            encoded = await self._call(running, self._run_and_encode(claim, node_type.run), context, inputs)
        if cache_key:
            await self.engine.cache.replace_one(
                {"_id": cache_key}, {"outputs": encoded[0], "preview": encoded[1], "created_at": now_utc()}, upsert=True
            )
        return encoded, False

    def _config(self, node_type: Any, spec: jr.TaskSpec) -> Any:
        """The node's parsed config (frozen models, so tasks may share one); a config its type now refuses
        (the type changed since the flow was saved) fails the attempt, naming the fields."""
        key = (spec.type, json.dumps(spec.spec["config"], sort_keys=True, default=str))
        config = self._configs.get(key)
        if config is not None:
            self._configs.move_to_end(key)
            return config
        try:
            config = node_type.config_model.model_validate(spec.spec["config"])
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors())
            message = f"the config of node {spec.node} is not valid for {spec.type}: {problems}"
            raise Attempt(st.FAILED, {"type": "InvalidConfig", "message": message}) from None
        self._configs[key] = config
        if len(self._configs) > CONFIG_CACHE_SIZE:
            self._configs.popitem(last=False)
        return config

    async def _call(self, running: RunningTask, run: Any, context: NodeContext[Any], inputs: dict[str, Any]) -> Any:
        timeout = running.claim.spec.spec.get("timeout_s")
        assert self.loop is not None
        ctx = contextvars.copy_context()
        ctx.run(CURRENT_TASK.set, running)
        future = self.loop.run_in_executor(self.pool, ctx.run, run, context, inputs)
        canceled = asyncio.ensure_future(running.cancel_seen.wait())
        try:
            await asyncio.wait({future, canceled}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            canceled.cancel()
        if not future.done():
            running.cancelled.set()  # the node's thread sees it and should stop; it is not waited for
            future.add_done_callback(_discard_result)
            if running.cancel_seen.is_set():
                raise Attempt(st.CANCELED, {"type": "Canceled", "message": "the run was canceled"})
            raise Attempt(
                st.FAILED, {"type": "Timeout", "message": f"the task took longer than its timeout of {timeout}s"}
            )
        try:
            result = future.result()
        except NodeCanceled:
            raise Attempt(st.CANCELED, {"type": "Canceled", "message": "the run was canceled"}) from None
        except DependencyUnavailable as exc:
            context.log.warning("a service this task needs is unavailable: %s", exc.message)
            raise Attempt(DEPENDENCY_DOWN, {"type": "DependencyUnavailable", "message": exc.message}) from None
        except NodeError as exc:
            if running.cancelled.is_set():
                raise Attempt(st.CANCELED, {"type": "Canceled", "message": "the run was canceled"}) from None
            context.log.error("%s", exc)
            raise Attempt(st.FAILED, {"type": "NodeError", "message": str(exc)}) from None
        except Exception as exc:  # noqa: BLE001 - whatever a node raises fails its attempt, with the traceback
            trace = "".join(traceback.format_exception(exc))
            TaskLog(log, running.lines).append("ERROR", trace)
            raise Attempt(
                st.FAILED, {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__, "traceback": trace}
            ) from None
        return result

    def _run_and_encode(self, claim: Claim, run: Any) -> Any:
        def run_and_encode(context: NodeContext[Any], inputs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
            return self._encode(claim, run(context, inputs))

        return run_and_encode

    def _encode(self, claim: Claim, result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if not isinstance(result, Mapping):
            raise NodeError(f"node type {claim.spec.type} returned {type(result).__name__}, not a dict of outputs")
        key = f"{claim.plan.run_id}/{claim.node}/{claim.attempt}"
        stored = {name: self.artifacts.encode(f"{key}/{name}", value) for name, value in result.items()}
        previews = {name: preview(value) for name, value in result.items()}
        return stored, previews

    # -- ending an attempt --------------------------------------------------------------

    def _final(self, running: RunningTask, state: str, **fields: Any) -> dict[str, Any]:
        """The attempt's end record. Fields that are empty are left out (every reader defaults them): each
        task inserts one, and FerretDB's work per document grows with its fields (a fifth of a chain hop's
        insert went on an empty log, outputs, output keys and previews)."""
        claim = running.claim
        if running.lines:
            fields["logs"] = running.lines
        return record(
            "final",
            jr.final_id(claim.node, claim.epoch),
            node=claim.node,
            epoch=claim.epoch,
            attempt=claim.attempt,
            state=state,
            executor=self.id,
            started_at=running.started_at,
            duration_ms=_ms(running.started),
            **fields,
        )

    async def _succeed(self, running: RunningTask, encoded: Any, cached: bool) -> Claim | None:
        claim = running.claim
        outputs, previews = encoded
        extra: dict[str, Any] = {}
        if outputs:
            extra.update(outputs=outputs, output_keys=list(outputs), preview=previews)
        if cached:
            extra["cached"] = True
        final = self._final(running, st.SUCCEEDED, **extra)
        hand_off = not self.stopping.is_set() and not running.cancelled.is_set()
        try:
            won, handoff = await self.engine.complete(claim, final, hand_off=hand_off)
        except (OperationFailure, InvalidDocument) as exc:  # e.g. a document over MongoDB's size limit
            error = {"type": "OutputNotStored", "message": f"the task's outputs could not be stored: {exc}"}
            return await self._end_without_outputs(running, Attempt(st.FAILED, error))
        if not won:
            log.warning(
                "task %s ended in another attempt first; the result of attempt %d is dropped", claim.id, claim.attempt
            )
            return handoff
        self._remember(claim, outputs)
        if running.cancelled.is_set():
            await self.engine.finalize(claim.plan.run_id)  # it finished anyway while its run was being canceled
        return handoff

    def _remember(self, claim: Claim, outputs: dict[str, Any]) -> None:
        self._recent_outputs[f"{claim.plan.run_id}:{claim.node}:{claim.epoch}"] = outputs
        while len(self._recent_outputs) > RECENT_OUTPUTS:
            self._recent_outputs.pop(next(iter(self._recent_outputs)))

    async def _end_without_outputs(self, running: RunningTask, ended: Attempt) -> Claim | None:
        claim = running.claim
        state = ended.state
        transient = claim.transient
        if state == DEPENDENCY_DOWN:
            if claim.transient < MAX_TRANSIENT_RETRIES:
                # Not the task's fault: retried without using up its own retries.
                state, transient = st.RETRYING, claim.transient + 1
                delay = min(60.0, 2.0**claim.transient)
            else:
                state = st.FAILED
        if state == st.FAILED and claim.attempt < claim.attempt_limit:
            state = st.RETRYING
            delay = retry_delay(
                claim.spec.spec.get("retry_backoff_s", 1.0), claim.attempt - claim.plan.base_attempts(claim.node)
            )
        if state != st.RETRYING:
            final = self._final(running, state, error=ended.error)
            won, _ = await self.engine.complete(claim, final)
            if won and state == st.CANCELED:
                await self.engine.finalize(claim.plan.run_id)
            return None
        due = now_utc() + timedelta(seconds=delay)
        event = task_event(claim.plan, claim.node, st.RETRYING, claim.attempt, error=ended.error.get("message"))
        # The queue entry makes the task claimable again: its event goes first.
        await self.events.emit_all([event])
        await self._retry_later(running, ended.error, due, transient_next=transient)
        return None

    async def _retry_later(
        self, running: RunningTask, error: dict[str, Any], due: datetime, *, transient_next: int
    ) -> None:
        """Record that this attempt failed (``retry``) and queue the next one for ``due``."""
        claim = running.claim
        retry = record(
            "retry",
            jr.retry_id(claim.node, claim.attempt),
            node=claim.node,
            epoch=claim.epoch,
            attempt=claim.attempt,
            transient=transient_next != claim.transient,
            transient_next=transient_next,
            due=due,
            error=error,
            logs=running.lines,
            duration_ms=_ms(running.started),
        )
        if (await self.engine.record(claim.plan.run_id, [retry]))[0]:
            await self.engine.enqueue(claim.plan, [(claim.node, claim.attempt + 1)], due=due, transient=transient_next)

    # -- background loops ---------------------------------------------------------------

    async def _renew_lease(self) -> None:
        """Extend this executor's lease: while it is valid, nobody takes over the tasks it runs."""
        await self.engine.executors.replace_one(
            {"_id": self.id},
            {
                "lease_expires": now_utc() + timedelta(seconds=self.settings.executor_lease_s),
                "capacity": self.capacity,
                "running": len(self.active),
            },
            upsert=True,
        )

    async def _heartbeat_loop(self) -> None:
        interval = min(self.settings.executor_lease_s / 3, 2.0)
        refreshing: asyncio.Future[None] | None = None
        while not self.stopping.is_set():
            await self._renew_lease()
            if refreshing is None or refreshing.done():
                # Off the heartbeat: the token endpoint may be slow or down.
                refreshing = asyncio.get_running_loop().run_in_executor(None, self.services.keep_token_fresh)
            await asyncio.sleep(interval)
            if not self.active:
                continue
            running = list(self.active.values())
            for run_id in {task.run_id for task in running}:
                run = await self.engine.runs.find_one({"_id": run_id}, {"cancel_requested": 1})
                if run is None or not run.get("cancel_requested"):
                    continue
                for task in running:
                    if task.run_id == run_id:
                        task.cancelled.set()
                        task.cancel_seen.set()
            for task in running:
                if len(task.lines) > task.saved_lines:
                    new = task.lines[task.saved_lines :]
                    task.saved_lines += len(new)
                    chunk = record(
                        "log",
                        jr.log_id(task.claim.node, task.claim.attempt, task.log_chunks),
                        node=task.claim.node,
                        lines=new,
                    )
                    task.log_chunks += 1
                    await self.engine.record(task.run_id, [chunk])

    async def _sweep_loop(self) -> None:
        interval = max(0.5, min(self.settings.executor_lease_s / 2, 5.0))
        last_heal = last_reconcile = 0.0
        while not self.stopping.is_set():
            await asyncio.sleep(interval)
            moment = now_utc()
            leases = await self.engine.executors.find({}).to_list()
            live = {lease["_id"] for lease in leases if lease["lease_expires"] >= moment}
            lapsed = [lease["_id"] for lease in leases if lease["_id"] not in live]
            self._members = live | {self.id}
            if lapsed or time.monotonic() - last_heal > HEAL_INTERVAL_S:
                last_heal = time.monotonic()
                await self._heal(live | {self.id}, lapsed)
            if time.monotonic() - last_reconcile > 10:
                last_reconcile = time.monotonic()
                await self.engine.reconcile_slots()

    async def _heal(self, live: set[str], lapsed: list[str]) -> None:
        """Finish what dead processes left half done in running runs, and take over their attempts.

        Each run is looked at by one live executor (rendezvous hashing), so
        the journals are not read once per executor; when an executor's lease
        ran out, every executor looks at every run, to take its attempts over
        at once. Otherwise a run is looked at once it has run for a heal
        interval: healing reads the run's whole journal (about a second of
        FerretDB's time for a run of a thousand tasks), and a young run left
        half done by a process that died has a lapsed lease to show for it,
        unless that process was an API server starting it.
        """
        moment = now_utc()
        running = await self.engine.runs.find(
            {"state": st.RUNNING}, {"_id": 1, "cancel_requested": 1, "started_at": 1}
        ).to_list()
        for run in running:
            if not lapsed and (owner_of(run["_id"], live) != self.id or not heal_due(run, moment)):
                continue
            if run.get("cancel_requested"):
                await self.engine.finalize(run["_id"])
            for orphan in await self.engine.heal(run["_id"], live):
                if len(self.active) >= self.capacity:
                    return  # the rest at the next sweep, or by another executor
                if (await self.engine.record(orphan.plan.run_id, [orphan.claim_record(self.id)]))[0]:
                    log.warning("took over task %s (attempt %d)", orphan.id, orphan.attempt)
                    self.events.emit(
                        task_event(orphan.plan, orphan.node, st.READY, orphan.attempt, reason=orphan.reason)
                    )
                    self.events.emit(task_event(orphan.plan, orphan.node, st.RUNNING, orphan.attempt, executor=self.id))
                    self._spawn(orphan)
        for executor in lapsed:
            await self.engine.executors.delete_one({"_id": executor})

    # -- subflows ------------------------------------------------------------------------

    def _run_subflow(
        self, flow_id: str, *, params: Mapping[str, Any], version: int | None, timeout_s: float | None
    ) -> dict[str, Any]:
        """Start a child run and wait for it (called from a node's worker thread)."""
        running = CURRENT_TASK.get()
        assert self.loop is not None
        parent = {"run_id": running.run_id, "node_id": running.claim.node}

        def call(coroutine: Any, timeout: float = 60) -> Any:
            return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)  # type: ignore[arg-type]

        try:
            child, _ = call(
                self.engine.create_run(
                    flow_id,
                    params=dict(params),
                    version=version,
                    trigger={"type": "subflow", **parent},
                    parent=parent,
                    dedupe_key=f"subflow:{running.id}:{running.claim.attempt}",
                )
            )
        except Exception as exc:  # noqa: BLE001 - surfaced to the flow's author as the node's error
            raise NodeError(f"subflow {flow_id!r} could not start: {getattr(exc, 'message', exc)}") from None
        deadline = time.monotonic() + timeout_s if timeout_s else None
        while True:
            state = call(self.engine.get_run(child["_id"]))["state"]
            if state in st.RUN_TERMINAL:
                break
            if running.cancelled.is_set() or (deadline and time.monotonic() > deadline):
                call(self.engine.cancel(child["_id"]))
                if running.cancelled.is_set():
                    raise NodeCanceled()
                raise NodeError(f"subflow run {child['_id']} did not finish within {timeout_s}s; it was canceled")
            time.sleep(0.1)
        if state != st.SUCCEEDED:
            raise NodeError(f"subflow run {child['_id']} of {flow_id!r} ended {state}")
        plan = call(self.engine.plan(child["_id"]))
        finals = call(self.engine.finals(plan, plan.sinks()))
        return {
            f"{node}.{name}": self.artifacts.decode(ref)
            for node, final in finals.items()
            for name, ref in (final.get("outputs") or {}).items()
        }


def heal_due(run: dict[str, Any], moment: datetime) -> bool:
    """Whether the periodic heal looks at ``run`` now: once it has run for a heal interval, or is being canceled."""
    started = run.get("started_at")
    if run.get("cancel_requested") or started is None:
        return True
    return moment - started >= timedelta(seconds=HEAL_INTERVAL_S)


def own_first(entries: list[dict[str, Any]], members: set[str], me: str) -> list[dict[str, Any]]:
    """Queue entries in the order executor ``me`` tries them: its own (by rendezvous hashing of their ids over
    the executors with a lease) first, then the others', each part shuffled.

    Executors read the same head of the queue; taking their own first, they seldom race for one entry. A
    lost race costs more than the claim it loses: FerretDB inserts a batch with a duplicate again one
    document at a time, each in its own transaction.
    """
    shuffled = random.sample(entries, len(entries))
    if len(members) <= 1:
        return shuffled
    return sorted(shuffled, key=lambda entry: owner_of(entry["_id"], members) != me)


def _discard_result(future: asyncio.Future[Any]) -> None:
    """An abandoned node thread finished after all: note how, and drop the result."""
    if not future.cancelled() and future.exception() is not None:
        log.info("an abandoned task thread ended with %r", future.exception())


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)


def _cache_key(spec: jr.TaskSpec, inputs: dict[str, Any], refs: dict[str, Any]) -> str:
    """Node type, config and every input's content: the same key means the same outputs."""
    digest = hashlib.sha256()
    digest.update(json.dumps([spec.type, spec.spec["config"]], sort_keys=True, default=str).encode())
    for name in sorted(inputs):
        digest.update(name.encode())
        ref = refs.get(name)
        if ref is None:
            digest.update(json.dumps(inputs[name], sort_keys=True, default=str).encode())
        elif "data" in ref:
            digest.update(bytes(ref["data"]))
        else:
            digest.update(json.dumps(ref.get("value", ref.get("uri")), sort_keys=True, default=str).encode())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> None:
    settings = get_settings()
    parser = argparse.ArgumentParser(prog="python -m flow_automation.executor", description=__doc__.split("\n")[0])
    parser.add_argument("--concurrency", type=int, default=None, help="tasks at once (DATAFLOW_EXECUTOR_CONCURRENCY)")
    args = parser.parse_args(argv)
    configure_logging("executor", settings.log_level, settings.log_format)
    executor = Executor(settings, concurrency=args.concurrency)

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, executor.stopping.set)
        await executor.run()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


if __name__ == "__main__":
    main()
