"""Runs claimed executions: wait for the fire time, check the limits, run the action with retries.

Everything that can be done before the fire time is: the job is read and its
action prepared (templates filled in, JSON encoded, Kafka partition picked)
when the slot is claimed, seconds ahead. Executions due at the same instant
then wait together behind one timer, and at that instant one pass fires them
all: for a Kafka action whose job is unchanged and under its limits, the pass
appends the message to the producer's buffer right there, and the delivery
reports come back through one queue that the event loop drains. A thousand
slots due in the same second thus cost one timer, one task and a thousand
buffer appends instead of a thousand tasks waking up.

Everything else (HTTP requests, a job that changed since it was prepared, a
job at its concurrency limit, a retry, a topic whose partitions the producer
does not know yet) runs as an asyncio task of its own, so a target that hangs
holds only its own task (bounded by the action's timeout) and never delays
other jobs.

The per-job concurrency limit counts the executions of the job running on
this node; since every slot of a job is claimed by the same node while
membership is stable (rendezvous hashing), that is the job's count across the
cluster except for the moment membership changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka.errors import KafkaError

from ecron.actions import ActionFailed
from ecron.actions.http import HttpRunner
from ecron.actions.kafka import KafkaRunner, PreparedMessage
from ecron.executions import OutcomeWriter
from ecron.jobs import JobStore, job_from_document
from ecron.models import Job, JobState
from ecron.schedules import next_fire_after

log = logging.getLogger(__name__)

JOB_DELETED = "the job was deleted before the slot fired"
YIELD_EVERY = 256  # a pass over the slots of one instant lets other work run after this many


def utcnow() -> datetime:
    return datetime.now(UTC)


def no_longer_due(execution: dict[str, Any], job: Job) -> str | None:
    """Why a claimed slot must not fire after all: its job was paused or its schedules changed since the claim."""
    if execution.get("trigger") == "manual":
        return None
    if job.state != JobState.active:
        return f"the job was {job.state.value} before the slot fired"
    revision = execution.get("revision")
    scheduled = execution["scheduled_time"]
    if revision is None or revision == job.revision:
        return None
    if next_fire_after(job.schedules, scheduled, inclusive=True) != scheduled:
        return "the job's schedules changed before the slot fired and no longer include it"
    return None


@dataclass(slots=True, eq=False)
class Pending:
    """A claimed execution on its way to an outcome."""

    execution: dict[str, Any]
    max_concurrent: int | None  # None: no per-job limit applies (takeovers, immediate runs)
    generation: int
    job: Job | None = None
    prepared: Any = None
    started: float = 0.0  # perf_counter() at the first attempt (0: not fired)
    errors: list[str] = field(default_factory=list)
    settled: bool = True  # False while a message sent by the firing pass awaits its delivery report

    @property
    def execution_id(self) -> str:
        return str(self.execution["_id"])


class ExecutionRunner:
    def __init__(
        self,
        *,
        jobs: JobStore,
        writer: OutcomeWriter,
        http: HttpRunner,
        kafka: KafkaRunner,
        node_id: str,
        max_in_flight: int,
        cache_size: int,
    ) -> None:
        self.jobs = jobs
        self.writer = writer
        self.http = http
        self.kafka = kafka
        self.node_id = node_id
        self.held: set[str] = set()
        self.claiming: set[str] = set()  # held, but the claim insert has not answered yet
        self.lease_ok: Callable[[], bool] = lambda: True
        self._running: Counter[str] = Counter()  # executions running per job
        self._active = 0  # executions running on this node
        self._max_in_flight = max_in_flight
        self._room = asyncio.Event()
        self._live: dict[str, Pending] = {}  # every execution started and not finished
        self._instants: dict[float, list[Pending]] = {}  # POSIX fire time -> executions due then
        self._timers: dict[float, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._deliveries: deque[tuple[Pending, bool, Any]] = deque()  # filled by the producer's thread
        self._drain_scheduled = False
        self._unsettled = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cache: OrderedDict[str, Job] = OrderedDict()
        self._cache_size = cache_size
        self._generation = 0
        writer.on_written = self.release

    # -- what this node holds -------------------------------------------------------------

    def hold(self, execution_ids: list[str], *, confirmed: bool) -> None:
        """Count executions as this node's; ``confirmed=False`` while their claim insert is in flight."""
        self.held.update(execution_ids)
        if not confirmed:
            self.claiming.update(execution_ids)

    def confirm(self, execution_ids: list[str]) -> None:
        self.claiming.difference_update(execution_ids)

    def release(self, execution_ids: list[str]) -> None:
        self.held.difference_update(execution_ids)
        self.claiming.difference_update(execution_ids)

    def held_lists(self) -> tuple[list[str], list[str]]:
        """``(confirmed, claiming)``: what a node taking over from this one must know (see ecron.nodes)."""
        return sorted(self.held - self.claiming), sorted(self.claiming)

    @property
    def generation(self) -> int:
        """Changes whenever this node loses its lease and drops what it held."""
        return self._generation

    def knows(self, execution_id: str) -> bool:
        """Whether this node is running (or about to run) the execution."""
        return execution_id in self._live

    def drop_all(self) -> None:
        """This node lost its lease: stop everything that has not fired yet; another node owns it now."""
        self._generation += 1
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._instants.clear()
        for task in self._tasks:
            task.cancel()
        self._live.clear()
        self.held.clear()
        self.claiming.clear()

    def seconds_until_next_fire(self) -> float | None:
        """How long until the next execution this node holds fires (None: none is waiting)."""
        return min(self._instants) - time.time() if self._instants else None

    def start(self, execution: dict[str, Any], max_concurrent: int | None) -> None:
        """Fire a claimed execution at its ``fire_time`` (at once if that has passed)."""
        self._loop = asyncio.get_running_loop()
        pending = Pending(execution, max_concurrent, self._generation)
        self._live[pending.execution_id] = pending
        job = self._cache.get(execution["job_id"])
        if job is None:
            self._spawn(self._load(pending))
        else:
            self._cache.move_to_end(job.id)
            self._prepare_and_queue(pending, job)

    async def drain(self, timeout_s: float) -> None:
        """Let due and running actions finish (a clean shutdown); executions not yet fired stay claimed for takeover."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (  # noqa: ASYNC110 - three conditions; a short poll at shutdown
            self._instants or self._unsettled or any(not task.done() for task in self._tasks)
        ):
            await asyncio.sleep(0.05)
        for timer in self._timers.values():
            timer.cancel()
        for task in self._tasks:
            task.cancel()

    async def close(self) -> None:
        await self.http.close()
        await self.kafka.close()

    # -- job definitions --------------------------------------------------------------------

    async def job(self, job_id: str) -> Job | None:
        cached = self._cache.get(job_id)
        document = None
        if cached is None:
            document = await self.jobs.find_document(job_id)
            if document is None:
                return None
            cached = job_from_document(document)
            self._cache[job_id] = cached
            if len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        self._cache.move_to_end(job_id)
        return cached

    def remember_job(self, document: dict[str, Any]) -> None:
        self._cache[document["_id"]] = job_from_document(document)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def forget_job(self, job_id: str) -> None:
        self._cache.pop(job_id, None)

    # -- before the fire time -------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _load(self, pending: Pending) -> None:
        try:
            job = await self.job(pending.execution["job_id"])
        except Exception as exc:
            log.exception("reading the job of execution %s failed", pending.execution_id)
            self._finish(pending, "failed", error=f"ecron error: {type(exc).__name__}: {exc}")
            return
        if pending.generation == self._generation:
            self._prepare_and_queue(pending, job)

    def _prepare_and_queue(self, pending: Pending, job: Job | None) -> None:
        pending.job = job
        if job is not None:
            try:
                pending.prepared = self._prepare(pending.execution, job)
            except Exception as exc:
                log.exception("preparing execution %s failed", pending.execution_id)
                self._finish(pending, "failed", error=f"ecron error: {type(exc).__name__}: {exc}")
                return
        at = pending.execution["fire_time"].timestamp()
        batch = self._instants.get(at)
        if batch is None:
            batch = self._instants[at] = []
            loop = asyncio.get_running_loop()
            self._timers[at] = loop.call_later(max(at - time.time(), 0.0), self._fire_instant, at)
        batch.append(pending)

    def _prepare(self, execution: dict[str, Any], job: Job) -> Any:
        variables = {
            "scheduled_time": execution["scheduled_time"].astimezone(UTC).isoformat(),
            "job_id": job.id,
            "execution_id": execution["_id"],
        }
        return self._runner_for(job).prepare(job.action, variables)

    def _runner_for(self, job: Job) -> HttpRunner | KafkaRunner:
        return self.http if job.action.type == "http" else self.kafka

    # -- at the fire time -----------------------------------------------------------------------

    def _fire_instant(self, at: float) -> None:
        self._timers.pop(at, None)
        batch = self._instants.pop(at, [])
        if batch:
            self._spawn(self._fire(batch))

    async def _fire(self, batch: list[Pending]) -> None:
        """Fire every execution due at one instant, in one pass."""
        sent: dict[float, list[Pending]] = {}
        for index, pending in enumerate(batch):
            if index and index % YIELD_EVERY == 0:
                await asyncio.sleep(0)
            if not self.lease_ok():
                await self._fenced()
            if pending.generation != self._generation:
                continue  # this node lost its lease since the claim
            try:
                if self._fire_in_place(pending):
                    sent.setdefault(pending.prepared.timeout_s, []).append(pending)
            except Exception as exc:
                log.exception("execution %s failed inside ecron", pending.execution_id)
                self._finish(pending, "failed", error=f"ecron error: {type(exc).__name__}: {exc}")
        loop = asyncio.get_running_loop()
        for timeout_s, messages in sent.items():
            loop.call_later(timeout_s, self._expire, messages)

    def _fire_in_place(self, pending: Pending) -> bool:
        """Send a Kafka message right here if nothing needs waiting for; True if it was sent.

        Anything else goes to a task of its own (:meth:`_execute`).
        """
        job, prepared = pending.job, pending.prepared
        if job is None:
            self._finish(pending, "skipped", error=JOB_DELETED)
            return False
        limit = None if pending.max_concurrent is None else job.max_concurrent
        if (
            not isinstance(prepared, PreparedMessage)
            or self._cache.get(job.id) is not job  # changed, deleted or evicted since it was prepared
            or (limit is not None and self._running[job.id] >= limit)
            or self._active >= self._max_in_flight
            or not self.kafka.can_send_now(prepared)
        ):
            self._spawn(self._execute(pending))
            return False
        if reason := no_longer_due(pending.execution, job):
            self._finish(pending, "skipped", error=reason)
            return False
        self._occupy(job.id)
        self._begin_attempt(pending)
        try:
            future = self.kafka.send_now(prepared)
        except (KafkaError, TypeError, ValueError) as exc:  # the producer refused the message
            self._attempt_failed(pending, self.kafka.failure(prepared, exc))
            return False
        pending.settled = False
        self._unsettled += 1
        future.add_callback(self._delivered, pending, False)
        future.add_errback(self._delivered, pending, True)
        return True

    # -- delivery reports of messages sent by the firing pass ------------------------------------

    def _delivered(self, pending: Pending, failed: bool, outcome: Any) -> None:
        """Called by the producer's thread (or at once if the send failed early): queue it for the loop."""
        self._deliveries.append((pending, failed, outcome))
        if not self._drain_scheduled and self._loop is not None:
            self._drain_scheduled = True
            with contextlib.suppress(RuntimeError):  # the loop is closed: the process is stopping
                self._loop.call_soon_threadsafe(self._drain_deliveries)

    def _drain_deliveries(self) -> None:
        self._drain_scheduled = False  # before reading: a report queued from now on schedules another drain
        while self._deliveries:
            pending, failed, outcome = self._deliveries.popleft()
            if pending.settled:
                continue  # timed out before
            self._settle(pending)
            if failed:
                self._attempt_failed(pending, self.kafka.failure(pending.prepared, outcome))
            else:
                self._release(pending)
                self._finish(pending, "succeeded", response=self.kafka.summary(outcome))

    def _expire(self, messages: list[Pending]) -> None:
        for pending in messages:
            if not pending.settled:
                self._settle(pending)
                self._attempt_failed(pending, self.kafka.timed_out(pending.prepared))

    def _settle(self, pending: Pending) -> None:
        pending.settled = True
        self._unsettled -= 1

    def _attempt_failed(self, pending: Pending, message: str) -> None:
        """The firing pass's attempt failed: retry in a task of its own (it keeps its place), or record the failure."""
        assert pending.job is not None
        attempt = int(pending.execution["attempt"])
        pending.errors.append(f"attempt {attempt}: {message}")
        if pending.generation != self._generation:
            self._release(pending)  # this node lost its lease meanwhile: the execution is another node's now
            return
        if attempt >= pending.job.retry.max_attempts:
            self._release(pending)
            self._finish(pending, "failed", error=message)
            return
        self._spawn(self._retry(pending))

    async def _retry(self, pending: Pending) -> None:
        assert pending.job is not None
        try:
            await asyncio.sleep(pending.job.retry.delay_before(int(pending.execution["attempt"]) + 1))
            await self._attempts(pending)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("execution %s failed inside ecron", pending.execution_id)
            self._finish(pending, "failed", error=f"ecron error: {type(exc).__name__}: {exc}")
        finally:
            self._release(pending)

    # -- executions with a task of their own ---------------------------------------------------------

    async def _fenced(self) -> None:
        """Return only while this node's lease is valid: a node whose lease ran out starts nothing.

        That is what lets a node taking over trust that slots due after the
        dead node's lease expiry never started (:meth:`Scheduler._resume_executions`).
        """
        while not self.lease_ok():  # noqa: ASYNC110 - fenced until the lease is renewed; a poll keeps it simple
            await asyncio.sleep(0.1)

    async def _place_for(self, job: Job, fire_time: datetime, limit: int) -> bool:
        """Wait, within the job's misfire grace, until fewer than ``limit`` of its executions run here.

        The grace counts from the fire time, or from now for a slot that is
        already late (it was admitted by the misfire policy when claimed).

        Slots that come due together (a catch-up after an outage or a takeover)
        then run one after the other instead of being skipped; a slot whose
        predecessor is still running past the grace time is skipped.
        """
        deadline = max(fire_time, utcnow()) + timedelta(seconds=job.misfire.grace_s)
        while self._running[job.id] >= limit:
            if utcnow() > deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def _execute(self, pending: Pending) -> None:
        """Fire one execution that needs waiting for something: its job, its limit, a free place, a thread."""
        execution = pending.execution
        job = pending.job
        try:
            await self._fenced()
            if job is not None and self._cache.get(job.id) is not job:  # changed, deleted or evicted meanwhile
                job = pending.job = await self.job(job.id)
                pending.prepared = self._prepare(execution, job) if job is not None else None
            if job is None:
                self._finish(pending, "skipped", error=JOB_DELETED)
                return
            if reason := no_longer_due(execution, job):
                self._finish(pending, "skipped", error=reason)
                return
            limit = None if pending.max_concurrent is None else job.max_concurrent
            if limit is not None and not await self._place_for(job, execution["fire_time"], limit):
                self._finish(
                    pending,
                    "skipped",
                    error=f"max_concurrent={limit} executions of this job were still running "
                    f"{job.misfire.grace_s:g}s (the misfire grace) after the slot",
                )
                return
            while self._active >= self._max_in_flight:
                self._room.clear()
                await self._room.wait()
            self._occupy(job.id)
            try:
                await self._attempts(pending)
            finally:
                self._release(pending)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("execution %s failed inside ecron", pending.execution_id)
            self._finish(pending, "failed", error=f"ecron error: {type(exc).__name__}: {exc}")

    async def _attempts(self, pending: Pending) -> None:
        """Run attempts until one succeeds or the job's retries are used up."""
        job = pending.job
        assert job is not None
        runner = self._runner_for(job)
        while True:
            await self._fenced()
            self._begin_attempt(pending)
            attempt = int(pending.execution["attempt"])
            try:
                response = await runner.run(pending.prepared)
            except ActionFailed as failure:
                pending.errors.append(f"attempt {attempt}: {failure.message}")
                if attempt >= job.retry.max_attempts:
                    self._finish(pending, "failed", error=failure.message, response=failure.response)
                    return
                await asyncio.sleep(job.retry.delay_before(attempt + 1))
                continue
            self._finish(pending, "succeeded", response=response)
            return

    # -- bookkeeping ----------------------------------------------------------------------------------

    def _begin_attempt(self, pending: Pending) -> None:
        execution = pending.execution
        execution["attempt"] = int(execution.get("attempt") or 0) + 1
        if not pending.started:
            execution["fired_at"] = utcnow()
            pending.started = time.perf_counter()

    def _occupy(self, job_id: str) -> None:
        self._running[job_id] += 1
        self._active += 1

    def _release(self, pending: Pending) -> None:
        job_id = pending.execution["job_id"]
        self._running[job_id] -= 1
        if self._running[job_id] <= 0:
            del self._running[job_id]
        self._active -= 1
        if self._active < self._max_in_flight:
            self._room.set()

    def _finish(
        self,
        pending: Pending,
        status: str,
        *,
        error: str | None = None,
        response: dict[str, Any] | None = None,
    ) -> None:
        """Record the outcome, unless this node lost its lease since the claim (another node owns it then)."""
        if pending.generation != self._generation:
            return
        self._live.pop(pending.execution_id, None)
        execution = pending.execution
        self.writer.record(
            {
                "_id": execution["_id"],
                "job_id": execution["job_id"],
                "status": status,
                "node": self.node_id,
                "attempt": int(execution.get("attempt") or 0),
                "fired_at": execution.get("fired_at") if pending.started else None,
                "finished_at": utcnow(),
                "duration_ms": round((time.perf_counter() - pending.started) * 1000, 2) if pending.started else None,
                "response": response,
                "error": error,
                "attempt_errors": pending.errors,
                "takeovers": int(execution.get("takeovers") or 0),
            }
        )
