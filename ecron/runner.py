"""Runs claimed executions: wait for the fire time, check the limits, run the action with retries.

Each execution is its own asyncio task, so a target that hangs holds only its
own task (bounded by the action's timeout) and never delays other jobs. The
per-job concurrency limit counts the executions of the job running on this
node; since every slot of a job is claimed by the same node while membership
is stable (rendezvous hashing), that is the job's count across the cluster
except for the moment membership changes.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
import time
from collections import Counter, OrderedDict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from ecron.actions import ActionFailed
from ecron.actions.http import HttpRunner
from ecron.actions.kafka import KafkaRunner
from ecron.executions import OutcomeWriter
from ecron.jobs import JobStore, job_from_document
from ecron.models import Job, JobState
from ecron.schedules import next_fire_after

log = logging.getLogger(__name__)


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
        self._running: Counter[str] = Counter()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(max_in_flight)
        self._cache: OrderedDict[str, Job] = OrderedDict()
        self._cache_size = cache_size
        self._generation = 0
        self._pending_fires: list[float] = []  # POSIX times of the executions waiting for their fire time
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

    def knows(self, execution_id: str) -> bool:
        """Whether this node is running (or about to run) the execution."""
        return execution_id in self._tasks

    def drop_all(self) -> None:
        """This node lost its lease: stop everything that has not fired yet; another node owns it now."""
        self._generation += 1
        for task in self._tasks.values():
            task.cancel()
        self._tasks.clear()
        self.held.clear()
        self.claiming.clear()

    def seconds_until_next_fire(self) -> float | None:
        """How long until the next execution this node holds fires (None: none is waiting)."""
        now = time.time()
        while self._pending_fires and self._pending_fires[0] < now:
            heapq.heappop(self._pending_fires)
        return self._pending_fires[0] - now if self._pending_fires else None

    def start(self, execution: dict[str, Any], max_concurrent: int | None) -> None:
        heapq.heappush(self._pending_fires, execution["fire_time"].timestamp())
        task = asyncio.get_running_loop().create_task(self._execute(execution, max_concurrent, self._generation))
        self._tasks[execution["_id"]] = task
        task.add_done_callback(lambda _: self._tasks.pop(execution["_id"], None))

    async def drain(self, timeout_s: float) -> None:
        """Let running actions finish (a clean shutdown); executions not yet fired stay claimed for takeover."""
        waiting = [task for task in self._tasks.values() if not task.done()]
        if waiting:
            await asyncio.wait(waiting, timeout=timeout_s)
        for task in self._tasks.values():
            task.cancel()

    async def close(self) -> None:
        await self.http.close()
        await self.kafka.close()

    # -- one execution --------------------------------------------------------------------

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

    async def _wait_until(self, fire_time: datetime) -> None:
        delay = (fire_time - utcnow()).total_seconds()
        if delay > 0:
            await asyncio.sleep(delay)
        await self._fenced()

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

    async def _execute(self, execution: dict[str, Any], max_concurrent: int | None, generation: int) -> None:
        execution_id = execution["_id"]
        job_id = execution["job_id"]
        try:
            # The job is read and its action prepared before the fire time, so that at the fire
            # time (when a thousand slots may be due together) only the action itself runs.
            job = await self.job(job_id)
            prepared = self._prepare(execution, job) if job is not None else None
            await self._wait_until(execution["fire_time"])
            if job is not None and self._cache.get(job_id) is not job:  # changed, deleted or evicted meanwhile
                job = await self.job(job_id)
                prepared = self._prepare(execution, job) if job is not None else None
            if job is None:
                self._finish(execution, "skipped", error="the job was deleted before the slot fired")
                return
            if reason := no_longer_due(execution, job):
                self._finish(execution, "skipped", error=reason)
                return
            limit = None if max_concurrent is None else job.max_concurrent
            if limit is not None and not await self._place_for(job, execution["fire_time"], limit):
                self._finish(
                    execution,
                    "skipped",
                    error=f"max_concurrent={limit} executions of this job were still running "
                    f"{job.misfire.grace_s:g}s (the misfire grace) after the slot",
                )
                return
            self._running[job_id] += 1
            try:
                async with self._slots:
                    await self._attempts(execution, job, prepared, generation)
            finally:
                self._running[job_id] -= 1
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("execution %s failed inside ecron", execution_id)
            self._finish(execution, "failed", error=f"ecron error: {type(exc).__name__}: {exc}")

    def _prepare(self, execution: dict[str, Any], job: Job) -> Any:
        variables = {
            "scheduled_time": execution["scheduled_time"].astimezone(UTC).isoformat(),
            "job_id": job.id,
            "execution_id": execution["_id"],
        }
        return self._runner_for(job).prepare(job.action, variables)

    def _runner_for(self, job: Job) -> HttpRunner | KafkaRunner:
        return self.http if job.action.type == "http" else self.kafka

    async def _attempts(self, execution: dict[str, Any], job: Job, prepared: Any, generation: int) -> None:
        runner = self._runner_for(job)
        attempt = int(execution.get("attempt") or 0)
        execution["fired_at"] = utcnow()
        started = time.perf_counter()
        errors: list[str] = []
        while True:
            attempt += 1
            execution["attempt"] = attempt
            await self._fenced()
            try:
                response = await runner.run(prepared)
            except ActionFailed as failure:
                errors.append(f"attempt {attempt}: {failure.message}")
                if attempt >= job.retry.max_attempts:
                    if generation == self._generation:
                        self._finish(
                            execution,
                            "failed",
                            error=failure.message,
                            response=failure.response,
                            started=started,
                            errors=errors,
                        )
                    return
                await asyncio.sleep(job.retry.delay_before(attempt + 1))
                continue
            if generation == self._generation:
                self._finish(execution, "succeeded", response=response, started=started, errors=errors)
            return

    def _finish(
        self,
        execution: dict[str, Any],
        status: str,
        *,
        error: str | None = None,
        response: dict[str, Any] | None = None,
        started: float | None = None,
        errors: list[str] | None = None,
    ) -> None:
        self.writer.record(
            {
                "_id": execution["_id"],
                "job_id": execution["job_id"],
                "status": status,
                "node": self.node_id,
                "attempt": int(execution.get("attempt") or 0),
                "fired_at": execution.get("fired_at"),
                "finished_at": utcnow(),
                "duration_ms": round((time.perf_counter() - started) * 1000, 2) if started is not None else None,
                "response": response,
                "error": error,
                "attempt_errors": errors or [],
                "takeovers": int(execution.get("takeovers") or 0),
            }
        )
