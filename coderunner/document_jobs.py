"""Document work off the event loop: each job in its own child process, under a time and memory limit.

Why processes and not threads: parsing a workbook or recognising a page is
CPU-bound Python and C that holds the GIL for long stretches, so a thread
would still slow every other request; the parsers run on untrusted bytes, so
a PDF stream bomb or a pathological spreadsheet must exhaust a child's
memory, not the service's; and a thread that overruns cannot be stopped,
while a process can be killed.

Why a fresh child per job, forked from a forkserver, rather than a
``ProcessPoolExecutor``: an executor cannot kill one of its workers; after
a timeout the only remedy is to break the whole pool, failing every other
job in flight. The forkserver imports the document libraries once (its
preload list), so a child starts in milliseconds with everything loaded, is
killed alone when it overruns, and gives all its memory back when it exits.
That start cost is small next to a parse, and tiny next to an OCR pass.

In the child: an address-space limit (``JOB_MEMORY_BYTES``), a CPU-time
limit and an alarm a little past the wall-clock limit (so a child outlives
the service by seconds at most), no core files, and tesseract held to one
thread (the job slots already spread the work over the CPUs). In the
service: at most ``concurrency`` jobs at once (one per CPU by default, more
would only slow each one down); a request waits up to ``queue_timeout_s``
for a slot and is then answered 429, so a burst of OCR queues briefly and
never blocks the event loop.

:class:`~coderunner.documents.errors.DocumentError` and the other
``DataflowError`` subclasses raised in the child are re-raised in the
service as they are; anything else is a bug and surfaces as a 500 with the
child's traceback in the service log.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import multiprocessing
import os
import resource
import signal
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from coderunner.documents import limits
from coderunner.documents.errors import CorruptDocument, DocumentTimeout, DocumentTooLarge
from common.errors import DataflowError, RateLimited

log = logging.getLogger(__name__)

T = TypeVar("T")

PRELOAD = ["coderunner.documents"]  # imported once by the forkserver, inherited by every child
KILL_GRACE_S = 5.0  # how long a killed child may take to be reaped
ALARM_MARGIN_S = 5  # the child's own alarm fires this long after the service gave up on it


class DocumentJobError(RuntimeError):
    """A document job failed in a way that is a bug, not a property of the document."""


@functools.cache
def document_jobs() -> DocumentJobs:
    """The service's one set of job slots, created on first use (inside the running service)."""
    return DocumentJobs()


class DocumentJobs:
    """Runs document functions in child processes; see the module docstring."""

    def __init__(
        self,
        *,
        concurrency: int | None = None,
        memory_bytes: int = limits.JOB_MEMORY_BYTES,
        queue_timeout_s: float = limits.JOB_QUEUE_TIMEOUT_S,
    ) -> None:
        self.concurrency = concurrency or max(2, len(os.sched_getaffinity(0)))
        self.memory_bytes = memory_bytes
        self.queue_timeout_s = queue_timeout_s
        self._slots = asyncio.Semaphore(self.concurrency)
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)

    @property
    def saturated(self) -> bool:
        """Whether every slot is taken, so the next job would wait."""
        return self._slots.locked()

    async def run(self, function: Callable[..., T], *args: Any, label: str, timeout_s: float, **kwargs: Any) -> T:
        """``function(*args, **kwargs)`` in a child process; ``label`` names the document in errors.

        ``function`` must be importable by name (a module-level function) and
        its arguments and result picklable.
        """
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_timeout_s)
        except TimeoutError:
            raise RateLimited(f"All {self.concurrency} document workers are busy; try again in a few seconds") from None
        try:
            return await asyncio.to_thread(self._run_in_child, function, args, kwargs, label, timeout_s)
        finally:
            self._slots.release()

    def _run_in_child(
        self, function: Callable[..., T], args: tuple[Any, ...], kwargs: dict[str, Any], label: str, timeout_s: float
    ) -> T:
        receiver, sender = self._context.Pipe(duplex=False)
        process = self._context.Process(
            target=_child_main,
            args=(sender, function, args, kwargs, label, self.memory_bytes, timeout_s),
            name=f"document-job:{getattr(function, '__name__', 'job')}",
            daemon=True,
        )
        started = time.monotonic()
        try:
            process.start()
        except BaseException:
            receiver.close()
            raise
        finally:
            sender.close()  # the child holds its own end now (or there is no child)
        try:
            remaining = timeout_s - (time.monotonic() - started)
            if not receiver.poll(max(remaining, 0)):
                raise DocumentTimeout(label, timeout_s)
            try:
                outcome, payload = receiver.recv()
            except EOFError:
                raise self._died(process, label, timeout_s) from None
        finally:
            receiver.close()
            _stop(process)
        if outcome == "ok":
            return payload  # type: ignore[no-any-return]
        if outcome == "error":
            raise payload
        raise DocumentJobError(f"document job {function.__name__} failed in its process:\n{payload}")

    @staticmethod
    def _died(process: multiprocessing.process.BaseProcess, label: str, timeout_s: float) -> Exception:
        """The error for a child that ended without an answer, judged by how it ended."""
        process.join(KILL_GRACE_S)
        code = process.exitcode
        if code in (-signal.SIGXCPU, -signal.SIGALRM):
            return DocumentTimeout(label, timeout_s)
        if code == -signal.SIGKILL:  # the kernel's answer to a process that exhausts memory
            return DocumentTooLarge(label, "processing it needed more memory than one document may use")
        if code is not None and code < 0:  # a native parser crashed (SIGSEGV, SIGABRT...) on this input
            log.warning("document job for %r was ended by signal %s", label, -code)
            return CorruptDocument(label, "a document", f"processing it crashed (signal {-code})")
        return DocumentJobError(f"the document job for {label!r} exited with code {code} before answering")


def _stop(process: multiprocessing.process.BaseProcess) -> None:
    if process.is_alive():
        process.kill()
    process.join(KILL_GRACE_S)
    if process.exitcode is not None:
        process.close()


def _child_main(
    sender: Connection,
    function: Callable[..., Any],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    label: str,
    memory_bytes: int,
    timeout_s: float,
) -> None:
    """The child's whole life: limit itself, run the function, send back ("ok" | "error" | "bug", payload)."""
    _limit_child(memory_bytes, timeout_s)
    try:
        outcome: tuple[str, Any] = ("ok", function(*args, **kwargs))
    except DataflowError as exc:
        outcome = ("error", exc)
    except MemoryError:
        outcome = ("error", DocumentTooLarge(label, "processing it needed more memory than one document may use"))
    except Exception:  # noqa: BLE001 - reported to the service, which logs it as the bug it is
        outcome = ("bug", traceback.format_exc())
    try:
        sender.send(outcome)
    except Exception:  # noqa: BLE001 - an unpicklable result is a bug too; say so instead of dying silently
        sender.send(("bug", traceback.format_exc()))
    finally:
        sender.close()


def _limit_child(memory_bytes: int, timeout_s: float) -> None:
    seconds = math.ceil(timeout_s)
    for limit, value in (
        (resource.RLIMIT_AS, memory_bytes),
        (resource.RLIMIT_CPU, seconds + 1),
        (resource.RLIMIT_CORE, 0),
    ):
        _soft, hard = resource.getrlimit(limit)
        capped = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(limit, (capped, hard))
    signal.alarm(seconds + ALARM_MARGIN_S)
    os.environ["OMP_THREAD_LIMIT"] = "1"  # read by tesseract, which this process starts
    # Parsers log their opinions of malformed files; those would reach the service's
    # output as raw lines. What matters comes back in the result or the error.
    logging.disable(logging.ERROR)
