"""Running a program: validate limits, compile (cached), dispatch to the pool.

Programs are compiled here, in the service, once per distinct source (an LRU
cache keyed by SHA-256), and sent to workers as code objects; a worker never
compiles. Compile-time refusals (syntax errors, names the policy forbids)
return at once without touching a worker.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from typing import Any

from coderunner.sandbox.pool import PoolUnavailable, RunRequest, WorkerPool
from common.errors import InvalidDefinition, RateLimited
from common.sandbox import CompiledProgram, SandboxViolation, compile_program
from common.settings import Settings

COMPILE_CACHE_SIZE = 2048
COMPILE_IN_THREAD_BYTES = 20_000  # longer sources compile off the event loop


class Executor:
    def __init__(self, pool: WorkerPool, settings: Settings) -> None:
        self.pool = pool
        self.settings = settings
        self._compiled: OrderedDict[str, CompiledProgram | SyntaxError | SandboxViolation] = OrderedDict()

    async def compile(self, code: str) -> CompiledProgram | SyntaxError | SandboxViolation:
        key = code
        cached = self._compiled.get(key)
        if cached is not None:
            self._compiled.move_to_end(key)
            return cached
        try:
            if len(code) > COMPILE_IN_THREAD_BYTES:
                outcome: Any = await asyncio.to_thread(compile_program, code)
            else:
                outcome = compile_program(code)
        except (SyntaxError, SandboxViolation) as exc:
            outcome = exc
        except (ValueError, RecursionError, MemoryError) as exc:  # null bytes, absurd nesting
            outcome = SyntaxError(f"the program cannot be compiled: {exc}")
        self._compiled[key] = outcome
        if len(self._compiled) > COMPILE_CACHE_SIZE:
            self._compiled.popitem(last=False)
        return outcome

    def limits(self, timeout_s: float | None, memory_mb: int | None) -> tuple[float, int]:
        settings = self.settings
        timeout = settings.coderunner_default_timeout_s if timeout_s is None else timeout_s
        memory = settings.coderunner_default_memory_mb if memory_mb is None else memory_mb
        problems = []
        if timeout > settings.coderunner_max_timeout_s:
            problems.append({"field": "timeout_s", "message": f"at most {settings.coderunner_max_timeout_s:g}"})
        if memory > settings.coderunner_max_memory_mb:
            problems.append({"field": "memory_mb", "message": f"at most {settings.coderunner_max_memory_mb}"})
        if problems:
            raise InvalidDefinition("The requested limits exceed what this service allows", details=problems)
        return timeout, memory

    async def execute(
        self, code: str, inputs: dict[str, Any], timeout_s: float | None = None, memory_mb: int | None = None
    ) -> dict[str, Any]:
        timeout, memory = self.limits(timeout_s, memory_mb)
        if len(code.encode("utf-8", "surrogatepass")) > self.settings.coderunner_max_code_bytes:
            raise InvalidDefinition(
                f"The program is longer than {self.settings.coderunner_max_code_bytes} bytes",
                details=[{"field": "code", "message": "too long"}],
            )
        started = time.perf_counter()
        compiled = await self.compile(code)
        if not isinstance(compiled, CompiledProgram):
            return refusal(compiled, started)
        try:
            return await self.pool.run(RunRequest(compiled.code, compiled.sha256, inputs, timeout, memory))
        except PoolUnavailable as exc:
            raise RateLimited(str(exc)) from exc


def refusal(error: SyntaxError | SandboxViolation, started: float) -> dict[str, Any]:
    """The response for a program refused before it ran."""
    message = error.msg if isinstance(error, SyntaxError) and error.msg else str(error)
    return {
        "ok": False,
        "result": None,
        "stdout": "",
        "stderr": "",
        "error": {"type": type(error).__name__, "message": message, "line": error.lineno},
        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
    }
