"""The pool of pre-started sandbox workers.

One program runs in a worker at a time. A request takes an idle worker
(waiting up to ``queue_timeout_s``), sends it the compiled program and its
inputs, and waits at most the program's timeout. A worker that overruns is
killed (SIGKILL) and replaced; so is one that crashes, hits its memory limit,
grows past ``max_rss_mb`` or has served ``max_runs`` programs. Replacements start in the background, so
a runaway program costs one worker for about a second, never the service.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import marshal
import os
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from coderunner.sandbox.hostcalls import HostCall, answer_host_call
from coderunner.sandbox.protocol import encode_frame, read_frame

log = logging.getLogger(__name__)

WORKER_START_TIMEOUT_S = 60.0
KILL_GRACE_S = 0.5


class PoolUnavailable(Exception):
    """No worker became free in time, or the pool is shutting down."""


@dataclass
class RunRequest:
    code: Any
    sha256: str
    inputs: dict[str, Any]
    timeout_s: float
    memory_mb: int


@dataclass(eq=False)
class _Worker:
    process: asyncio.subprocess.Process
    generation: int
    runs: int = 0
    isolation: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid


class WorkerPool:
    def __init__(
        self,
        *,
        size: int,
        max_runs: int,
        max_rss_mb: int = 1024,
        max_output: int,
        queue_timeout_s: float,
        allowed_modules: tuple[str, ...] = (),
        site_dirs: tuple[str, ...] = (),
    ) -> None:
        self.size = size
        self.max_runs = max_runs
        self.max_rss_mb = max_rss_mb
        self.max_output = max_output
        self.queue_timeout_s = queue_timeout_s
        self.allowed_modules = allowed_modules
        self.site_dirs = site_dirs
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._all: set[_Worker] = set()
        self._spawning: set[asyncio.Task[None]] = set()
        self._ids = itertools.count(1)
        self._closed = False
        self._generation = 0
        self.stats = {"runs": 0, "timeouts": 0, "crashes": 0, "replaced": 0}
        #: Services a running program may ask of the host, by name (see :mod:`.hostcalls`).
        self.host_calls: dict[str, HostCall] = {}

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def started(self) -> bool:
        return bool(self._all)

    async def start(self) -> None:
        await asyncio.gather(*(self._spawn() for _ in range(self.size)))
        log.info("sandbox pool ready", extra={"workers": self.size, "isolation": self.isolation()})

    def isolation(self) -> dict[str, Any]:
        return next((worker.isolation for worker in self._all), {})

    async def close(self) -> None:
        self._closed = True
        for task in list(self._spawning):
            task.cancel()
        for worker in list(self._all):
            await self._kill(worker)

    async def restart(self, *, allowed_modules: tuple[str, ...], site_dirs: tuple[str, ...]) -> None:
        """Replace every worker, because the import policy or the installed packages changed.

        Busy workers finish their current program and are retired when they come back.
        """
        self.allowed_modules = allowed_modules
        self.site_dirs = site_dirs
        self._generation += 1
        while not self._idle.empty():
            worker = self._idle.get_nowait()
            await self._retire(worker)

    def _command(self) -> list[str]:
        command = [sys.executable, "-m", "coderunner.sandbox.worker", "--max-output", str(self.max_output)]
        for module in self.allowed_modules:
            command += ["--allow-module", module]
        for site_dir in self.site_dirs:
            command += ["--site-dir", site_dir]
        return command

    async def _spawn(self) -> None:
        environment = {
            "PATH": "/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "OMP_NUM_THREADS": "1",
            "OPENBLAS_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        process = await asyncio.create_subprocess_exec(
            *self._command(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=None,  # worker diagnostics go to the service's log
            env=environment,
            cwd="/",
            limit=2**20,
        )
        worker = _Worker(process, generation=self._generation)
        try:
            assert process.stdout is not None
            hello, _ = await asyncio.wait_for(read_frame(process.stdout), WORKER_START_TIMEOUT_S)
        except (TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            await self._kill(worker)
            raise RuntimeError(f"a sandbox worker failed to start: {exc!r}") from exc
        worker.isolation = hello.get("isolation", {})
        self._all.add(worker)
        self._idle.put_nowait(worker)

    def _replace_soon(self) -> None:
        if self._closed:
            return
        task = asyncio.get_running_loop().create_task(self._spawn_with_retry())
        self._spawning.add(task)
        task.add_done_callback(self._spawning.discard)
        self.stats["replaced"] += 1

    async def _spawn_with_retry(self) -> None:
        delay = 0.5
        while not self._closed:
            try:
                await self._spawn()
                return
            except (RuntimeError, OSError):
                log.exception("could not start a sandbox worker; retrying in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _kill(self, worker: _Worker) -> None:
        self._all.discard(worker)
        if worker.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                worker.process.send_signal(signal.SIGKILL)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.process.wait(), 5)

    async def _retire(self, worker: _Worker) -> None:
        await self._kill(worker)
        self._replace_soon()

    # -- running -------------------------------------------------------------------------

    async def run(self, request: RunRequest) -> dict[str, Any]:
        """Run one program; the answer always has ok/result/stdout/stderr/error/duration_ms."""
        if self._closed:
            raise PoolUnavailable("the sandbox pool is shutting down")
        try:
            worker = await asyncio.wait_for(self._idle.get(), self.queue_timeout_s)
        except TimeoutError:
            raise PoolUnavailable(
                f"all {self.size} sandbox workers stayed busy for {self.queue_timeout_s:g}s; try again shortly"
            ) from None
        self.stats["runs"] += 1
        started = time.perf_counter()
        header = {
            "type": "run",
            "id": next(self._ids),
            "sha256": request.sha256,
            "inputs": request.inputs,
            "timeout_s": request.timeout_s,
            "memory_mb": request.memory_mb,
        }
        try:
            assert worker.process.stdin is not None and worker.process.stdout is not None
            worker.process.stdin.write(encode_frame(header, marshal.dumps(request.code)))
            await worker.process.stdin.drain()
            response = await asyncio.wait_for(self._converse(worker), request.timeout_s + KILL_GRACE_S)
        except TimeoutError:
            self.stats["timeouts"] += 1
            await self._retire(worker)
            return _failure(
                "TimeoutError", f"the program ran longer than its timeout of {request.timeout_s:g}s", started
            )
        except (asyncio.IncompleteReadError, ConnectionError, ValueError, OSError):
            self.stats["crashes"] += 1
            code = await _exit_status(worker)
            await self._retire(worker)
            if code == -signal.SIGXCPU:
                self.stats["timeouts"] += 1
                return _failure("TimeoutError", f"the program used more than {request.timeout_s:g}s of CPU", started)
            return _failure("WorkerCrashed", _crash_message(code, request.memory_mb), started)
        except BaseException:
            await self._retire(worker)  # cancelled mid-run: the worker's state is unknown
            raise
        worker.runs += 1
        grown = response.pop("rss_mb", 0) > self.max_rss_mb
        recycle = response.pop("recycle", False) or grown or worker.runs >= self.max_runs
        if recycle or worker.generation != self._generation:
            await self._retire(worker)
        else:
            self._idle.put_nowait(worker)
        response.pop("type", None)
        response.pop("id", None)
        return response

    async def _converse(self, worker: _Worker) -> dict[str, Any]:
        """Read the worker's frames until its result, answering its host calls on the way."""
        assert worker.process.stdin is not None and worker.process.stdout is not None
        while True:
            frame, payload = await read_frame(worker.process.stdout)
            if frame.get("type") != "call":
                return frame
            reply, reply_payload = await answer_host_call(self.host_calls, frame, payload)
            worker.process.stdin.write(encode_frame(reply, reply_payload))
            await worker.process.stdin.drain()


async def _exit_status(worker: _Worker) -> int | None:
    try:
        return await asyncio.wait_for(worker.process.wait(), 2)
    except TimeoutError:
        return None


def _crash_message(code: int | None, memory_mb: int) -> str:
    if code is not None and code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        if -code in (signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS):
            return (
                f"the program crashed the sandbox process ({name}); "
                f"it may have exhausted its {memory_mb} MB of memory or the stack"
            )
        return f"the sandbox process was killed by {name}"
    return f"the sandbox process exited unexpectedly (exit status {code})"


def _failure(kind: str, message: str, started: float) -> dict[str, Any]:
    return {
        "ok": False,
        "result": None,
        "stdout": "",
        "stderr": "",
        "error": {"type": kind, "message": message, "line": None},
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }


def default_pool_size(configured: int) -> int:
    return configured if configured > 0 else max(2, os.cpu_count() or 2)
