"""``python -m flow_automation.executor``: claims ready tasks and runs their node types.

Any number of executor processes share the work through MongoDB:

- **Claim**: one atomic ``findOneAndUpdate`` moves a due task (``ready``, or
  ``retrying`` whose backoff has passed) to ``running`` with this executor's
  lease. When a task ends and makes a downstream task ready, the executor
  takes that one directly in the same write (a *handoff*): a chain advances
  without a claim round trip or a poll.
- **Heartbeat**: the executor's lease (one document in ``executors``) is extended every few seconds; the
  same beat notices cancel requests and passes them to the node
  (``context.cancelled``) and saves the task log so far.
- **Takeover**: a task whose lease ran out (its executor was killed) is
  claimed again, with its attempt count raised; the run goes on.
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
import signal
import threading
import time
import traceback
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bson.errors import InvalidDocument
from pymongo.errors import OperationFailure

from common.errors import DependencyUnavailable
from common.kafka import TRANSIENT_KAFKA_ERRORS
from common.logging import configure_logging
from common.mongo import TRANSIENT_MONGO_ERRORS, create_mongo_client, default_database
from common.settings import Settings, get_settings
from flow_automation.engine import states as st
from flow_automation.engine.events import EventPublisher, task_event
from flow_automation.engine.outputs import ArtifactStore, preview
from flow_automation.engine.runs import RunEngine, executor_id, history, now_utc, retry_delay
from flow_automation.flows.store import FlowStore
from flow_automation.node_services import ExecutorServices
from flow_automation.node_types import NodeCanceled, NodeContext, NodeError, get_node_type

log = logging.getLogger("dataflow.executor")

PARAMS_CACHE_SIZE = 1000
#: Due tasks looked at per claim: when another executor wins one, the next is tried.
CLAIM_CANDIDATES = 32
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
    doc: dict[str, Any]
    #: Seen by the node's thread (``context.cancelled``).
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: Seen by the executor, which stops waiting for the thread at once.
    cancel_seen: asyncio.Event = field(default_factory=asyncio.Event)
    lines: list[str] = field(default_factory=list)
    saved_lines: int = 0

    @property
    def id(self) -> str:
        return str(self.doc["_id"])


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
        self.stopping = asyncio.Event()
        self.loop: asyncio.AbstractEventLoop | None = None
        self._workers: set[asyncio.Task[None]] = set()
        self._params_cache: dict[str, dict[str, Any]] = {}

    # -- lifecycle ---------------------------------------------------------------

    async def run(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self._until_ready()
        await self._renew_lease()
        log.info("executor %s started (%d slots)", self.id, self.capacity)
        loops = [
            asyncio.create_task(self._forever(self._claim_loop, "claim")),
            asyncio.create_task(self._forever(self._heartbeat_loop, "heartbeat")),
            asyncio.create_task(self._forever(self._sweep_loop, "sweep")),
        ]
        await self.stopping.wait()
        log.info("executor %s stopping; %d task(s) still running", self.id, len(self.active))
        for task in loops:
            task.cancel()
        if self._workers:
            await asyncio.wait(self._workers, timeout=self.settings.shutdown_grace_s)
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
        """On shutdown, give unfinished tasks back at once instead of letting their leases run out."""
        if not self.active:
            return
        try:
            mine = [task.doc for task in self.active.values()]
            await self.engine.enqueue(mine)
            await self.engine.tasks.update_many(
                {"_id": {"$in": list(self.active)}, "lease_owner": self.id, "state": st.RUNNING},
                {
                    "$set": {"state": st.READY, "ready_at": now_utc(), "lease_owner": None},
                    **history(st.READY, reason=f"executor {self.id} stopped"),
                },
            )
        except TRANSIENT:
            log.warning("could not hand back %d task(s); their leases will expire", len(self.active))

    async def _drop_lease(self) -> None:
        with contextlib.suppress(*TRANSIENT):
            await self.engine.executors.delete_one({"_id": self.id})

    # -- claiming --------------------------------------------------------------------

    async def _claim_loop(self) -> None:
        idle = 0.01
        while not self.stopping.is_set():
            if len(self.active) >= self.capacity:
                self.slot_freed.clear()
                await self.slot_freed.wait()
                continue
            task = await self._claim()
            if task is None:
                self.slot_freed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.slot_freed.wait(), idle)
                idle = min(idle * 2, self.settings.executor_poll_s)
                continue
            idle = 0.01
            self._spawn(task)

    async def _claim(self) -> dict[str, Any] | None:
        """A due task from ``task_queue``, claimed by inserting its ``claim:<task>:<attempt>`` guard."""
        moment = now_utc()
        entries = await self.engine.queue.find({}).limit(CLAIM_CANDIDATES).to_list()
        due = sorted((entry for entry in entries if entry["due"] <= moment), key=lambda entry: entry["due"])
        for entry in due:
            claimed = await self._take(entry, reason=None)
            if claimed is not None:
                return claimed
        return None

    async def _take(self, entry: dict[str, Any], *, reason: str | None) -> dict[str, Any] | None:
        """Claim the next attempt of the task ``entry`` names (a queue entry or an expired lease)."""
        attempt = int(entry.get("attempts", 0)) + 1
        if not await self.engine.guard(f"claim:{entry['_id']}:{attempt}", run_id=entry["run_id"], executor=self.id):
            return None
        if not reason:
            await self.engine.queue.delete_one({"_id": entry["_id"]})
        task = await self.engine.tasks.find_one({"_id": entry["_id"]})
        expected = (st.RUNNING,) if reason else (st.READY, st.RETRYING)
        if task is None or task["state"] not in expected or int(task.get("attempts", 0)) + 1 != attempt:
            return None  # canceled, or finished, since it was queued
        moment = now_utc()
        entries = [{"state": st.RUNNING, "at": moment, "executor": self.id}]
        if reason:
            entries.insert(0, {"state": st.READY, "at": moment, "reason": reason})
        fields = {**self.engine.lease_fields(self.id), "state": st.RUNNING, "started_at": moment, "attempts": attempt}
        await self.engine.tasks.update_one(
            {"_id": task["_id"]}, {"$set": fields, "$push": {"history": {"$each": entries}}}
        )
        claimed = {**task, **fields}
        if reason:
            self.events.emit(task_event(claimed, st.READY, reason=reason))
        self.events.emit(task_event(claimed, st.RUNNING, executor=self.id))
        return claimed

    def _spawn(self, task: dict[str, Any]) -> None:
        running = RunningTask(task)
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
            self.slot_freed.set()

    # -- one attempt -----------------------------------------------------------------

    async def _execute(self, running: RunningTask) -> dict[str, Any] | None:
        task = running.doc
        started = time.monotonic()
        try:
            if task.get("cancel_requested"):
                raise Attempt(st.CANCELED, {"type": "Canceled", "message": "the run was canceled"})
            params, inputs, refs = await self._inputs(task)
            outputs, cached = await self._outputs(running, params, inputs, refs)
        except Attempt as ended:
            return await self._end_without_outputs(running, ended, started)
        return await self._succeed(running, outputs, cached, started)

    async def _inputs(self, task: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        """The run's params, the task's input values, and the stored references of those from upstream."""
        params = await self._params(task["run_id"])
        references: dict[str, str] = task["spec"]["inputs"]
        if not references:
            return params, {}, {}
        sources = {ref.split(".", 1)[0] for ref in references.values() if not ref.startswith("params.")}
        upstream = {}
        if sources:
            docs = await self.engine.tasks.find(
                {"_id": {"$in": [f"{task['run_id']}:{node}" for node in sources]}}, {"node_id": 1, "outputs": 1}
            ).to_list()
            upstream = {doc["node_id"]: doc.get("outputs") or {} for doc in docs}
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
        """A run's params (immutable once the run exists), cached per run."""
        if run_id not in self._params_cache:
            run = await self.engine.runs.find_one({"_id": run_id}, {"params": 1})
            if len(self._params_cache) >= PARAMS_CACHE_SIZE:
                self._params_cache.pop(next(iter(self._params_cache)))
            self._params_cache[run_id] = (run or {}).get("params", {})
        return self._params_cache[run_id]

    async def _outputs(
        self, running: RunningTask, params: dict[str, Any], inputs: dict[str, Any], refs: dict[str, Any]
    ) -> tuple[tuple[dict[str, Any], dict[str, Any]], bool]:
        """((stored outputs, previews), whether they came from the cache)."""
        task = running.doc
        cache_key = _cache_key(task, inputs, refs) if task["spec"].get("cache") else None
        if cache_key:
            hit = await self.engine.cache.find_one({"_id": cache_key})
            if hit is not None:
                return (hit["outputs"], hit.get("preview", {})), True
        node_type = get_node_type(task["type"])
        if node_type is None:
            raise Attempt(st.FAILED, {"type": "UnknownNodeType", "message": f"unknown node type {task['type']!r}"})
        context = NodeContext(
            run_id=task["run_id"],
            node_id=task["node_id"],
            config=node_type.config_model.model_validate(task["spec"]["config"]),
            params=params,
            log=TaskLog(log, running.lines),
            attempt=task["attempts"],
            timeout_s=task["spec"].get("timeout_s"),
            cancelled=running.cancelled,
            services=self.services,
        )
        result = await self._call(running, node_type.run, context, inputs)
        encoded = await asyncio.to_thread(self._encode, task, result)
        if cache_key:
            await self.engine.cache.replace_one(
                {"_id": cache_key}, {"outputs": encoded[0], "preview": encoded[1], "created_at": now_utc()}, upsert=True
            )
        return encoded, False

    async def _call(self, running: RunningTask, run: Any, context: NodeContext[Any], inputs: dict[str, Any]) -> Any:
        timeout = running.doc["spec"].get("timeout_s")
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

    def _encode(self, task: dict[str, Any], result: Any) -> tuple[dict[str, Any], dict[str, Any]]:
        if not isinstance(result, Mapping):
            raise NodeError(f"node type {task['type']} returned {type(result).__name__}, not a dict of outputs")
        key = f"{task['run_id']}/{task['node_id']}/{task['attempts']}"
        stored = {name: self.artifacts.encode(f"{key}/{name}", value) for name, value in result.items()}
        previews = {name: preview(value) for name, value in result.items()}
        return stored, previews

    # -- ending an attempt --------------------------------------------------------------

    async def _succeed(self, running: RunningTask, encoded: Any, cached: bool, started: float) -> dict[str, Any] | None:
        task = running.doc
        outputs, previews = encoded
        finished = now_utc()
        try:
            done = await self._store_success(running, outputs, previews, cached, started, finished)
        except (OperationFailure, InvalidDocument) as exc:  # e.g. a document over MongoDB's size limit
            error = {"type": "OutputNotStored", "message": f"the task's outputs could not be stored: {exc}"}
            return await self._end_without_outputs(running, Attempt(st.FAILED, error), started)
        if done is None:
            log.warning("task %s was taken over by another executor; its result is dropped", task["_id"])
            return None
        self.events.emit(task_event(task, st.SUCCEEDED, duration_ms=_ms(started), cached=cached))
        handoff = await self.engine.settle_downstream(
            task, st.SUCCEEDED, list(outputs), handoff_owner=self.id if not self.stopping.is_set() else None
        )
        if running.cancelled.is_set():
            await self.engine.finalize(task["run_id"])  # it finished anyway while its run was being canceled
        return handoff

    async def _store_success(
        self, running: RunningTask, outputs: Any, previews: Any, cached: bool, started: float, finished: datetime
    ) -> dict[str, Any] | None:
        task = running.doc
        return await self.engine.tasks.find_one_and_update(
            {"_id": task["_id"], "lease_owner": self.id, "attempts": task["attempts"], "state": st.RUNNING},
            {
                "$set": {
                    "state": st.SUCCEEDED,
                    "outputs": outputs,
                    "output_keys": list(outputs),
                    "preview": previews,
                    "cached": cached,
                    "finished_at": finished,
                    "duration_ms": _ms(started),
                    "error": None,
                    "logs": running.lines,
                    "lease_owner": None,
                },
                **history(st.SUCCEEDED),
            },
        )

    async def _end_without_outputs(self, running: RunningTask, ended: Attempt, started: float) -> dict[str, Any] | None:
        task = running.doc
        state = ended.state
        fields: dict[str, Any] = {
            "error": ended.error,
            "logs": running.lines,
            "lease_owner": None,
            "duration_ms": _ms(started),
        }
        increments: dict[str, int] = {}
        if state == DEPENDENCY_DOWN:
            transient = task.get("transient_retries", 0)
            if transient < MAX_TRANSIENT_RETRIES:
                # Not the task's fault: retried without using up its own retries.
                state = st.RETRYING
                increments = {"transient_retries": 1, "attempt_limit": 1}
                fields["ready_at"] = now_utc() + timedelta(seconds=min(60.0, 2.0**transient))
            else:
                state = st.FAILED
        if state == st.FAILED and task["attempts"] < task.get("attempt_limit", 1):
            state = st.RETRYING
            delay = retry_delay(task["spec"].get("retry_backoff_s", 1.0), task["attempts"])
            fields["ready_at"] = now_utc() + timedelta(seconds=delay)
        elif state != st.RETRYING:
            fields["finished_at"] = now_utc()
        event = task_event(task, state, error=ended.error.get("message"))
        if state == st.RETRYING:
            # The write makes it claimable again: its event goes first.
            await self.events.emit_all([event])
        done = await self.engine.tasks.find_one_and_update(
            {"_id": task["_id"], "lease_owner": self.id, "attempts": task["attempts"], "state": st.RUNNING},
            {
                "$set": {"state": state, **fields},
                **({"$inc": increments} if increments else {}),
                **history(state, error=ended.error.get("message")),
            },
        )
        if done is None:
            return None
        if state == st.RETRYING:
            await self.engine.enqueue([task], due=fields["ready_at"])
            return None
        self.events.emit(event)
        await self.engine.settle_downstream(task, state, [])
        if state == st.CANCELED:
            await self.engine.finalize(task["run_id"])
        return None

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
        while not self.stopping.is_set():
            await self._renew_lease()
            await asyncio.sleep(interval)
            if not self.active:
                continue
            running = list(self.active.values())
            run_ids = list({task.doc["run_id"] for task in running})
            canceled_runs = {
                run["_id"]
                for run in await self.engine.runs.find(
                    {"_id": {"$in": run_ids}, "cancel_requested": True}, {"_id": 1}
                ).to_list()
            }
            for task in running:
                if task.doc["run_id"] in canceled_runs:
                    task.cancelled.set()
                    task.cancel_seen.set()
                if len(task.lines) > task.saved_lines:
                    task.saved_lines = len(task.lines)
                    await self.engine.tasks.update_one(
                        {"_id": task.id, "lease_owner": self.id}, {"$set": {"logs": list(task.lines)}}
                    )

    async def _sweep_loop(self) -> None:
        interval = max(0.5, min(self.settings.executor_lease_s / 2, 5.0))
        last_reconcile = 0.0
        while not self.stopping.is_set():
            await asyncio.sleep(interval)
            await self._take_over_expired()
            for run in await self.engine.runs.find(
                {"state": st.RUNNING, "cancel_requested": True}, {"_id": 1}
            ).to_list():
                await self.engine.finalize(run["_id"])
            if time.monotonic() - last_reconcile > 10:
                last_reconcile = time.monotonic()
                await self.engine.reconcile_slots()

    async def _take_over_expired(self) -> None:
        """Take over the tasks of executors whose lease ran out (killed, or cut off from MongoDB)."""
        moment = now_utc()
        for lapsed in await self.engine.executors.find({}).to_list():
            if lapsed["_id"] == self.id or lapsed["lease_expires"] >= moment:
                continue
            orphans = await self.engine.tasks.find({"state": st.RUNNING, "lease_owner": lapsed["_id"]}).to_list()
            for task in orphans:
                if len(self.active) >= self.capacity:
                    return  # the rest when a slot is free; the lapsed lease stays until they are taken
                claimed = await self._take(task, reason=f"lease expired: executor {lapsed['_id']} stopped")
                if claimed is not None:
                    log.warning("took over task %s from executor %s", task["_id"], lapsed["_id"])
                    self._spawn(claimed)
            await self.engine.executors.delete_one({"_id": lapsed["_id"]})

    # -- subflows ------------------------------------------------------------------------

    def _run_subflow(
        self, flow_id: str, *, params: Mapping[str, Any], version: int | None, timeout_s: float | None
    ) -> dict[str, Any]:
        """Start a child run and wait for it (called from a node's worker thread)."""
        running = CURRENT_TASK.get()
        assert self.loop is not None
        parent = {"run_id": running.doc["run_id"], "node_id": running.doc["node_id"]}

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
                    dedupe_key=f"subflow:{running.id}:{running.doc['attempts']}",
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
        sinks = call(self.engine.tasks.find({"run_id": child["_id"], "downstream": []}).to_list())
        return {
            f"{task['node_id']}.{name}": self.artifacts.decode(ref)
            for task in sinks
            for name, ref in (task.get("outputs") or {}).items()
        }


def _discard_result(future: asyncio.Future[Any]) -> None:
    """An abandoned node thread finished after all: note how, and drop the result."""
    if not future.cancelled() and future.exception() is not None:
        log.info("an abandoned task thread ended with %r", future.exception())


def _ms(started: float) -> float:
    return round((time.monotonic() - started) * 1000, 2)


def _cache_key(task: dict[str, Any], inputs: dict[str, Any], refs: dict[str, Any]) -> str:
    """Node type, config and every input's content: the same key means the same outputs."""
    digest = hashlib.sha256()
    digest.update(json.dumps([task["type"], task["spec"]["config"]], sort_keys=True, default=str).encode())
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
