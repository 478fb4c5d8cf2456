"""A sandbox worker process: ``python -m coderunner.sandbox.worker``.

Started by :class:`~coderunner.sandbox.pool.WorkerPool`. It imports the
allowed libraries once, isolates itself (:mod:`.isolation`), says it is
ready, then runs one program per request frame and answers with a JSON
frame. The service talks to it over the pipes that were stdin and stdout;
those descriptors are moved aside and replaced by /dev/null so nothing a
library prints can corrupt the protocol.
"""

from __future__ import annotations

import argparse
import decimal
import json
import marshal
import os
import random
import sys
import time
import traceback
import warnings
from typing import Any

from coderunner.sandbox.hostcalls import HostChannel
from coderunner.sandbox.isolation import isolate, limit_run, resident_mb
from coderunner.sandbox.protocol import encode_frame, read_frame_sync, write_all_sync
from coderunner.sandbox.warmup import warm_up
from common.sandbox import OutputBuffer, SandboxPolicy, SandboxViolation
from common.sandbox.modules import DEFAULT_ALLOWED_MODULES
from common.sandbox.policy import PROGRAM_FILENAME
from common.sandbox.values import UnserializableResult, decode_inputs, encode_value

MAX_RESULT_BYTES = 64 * 1024 * 1024
_CODE_CACHE_SIZE = 256


def _program_line(exc: BaseException) -> int | None:
    if isinstance(exc, SandboxViolation) and exc.lineno:
        return exc.lineno
    line = None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == PROGRAM_FILENAME:
            line = lineno
    return line


def _describe(exc: BaseException) -> dict[str, Any]:
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break the report
        message = repr(exc)
    if isinstance(exc, MemoryError):
        message = message or "the program exceeded its memory limit"
    elif isinstance(exc, RecursionError):
        message = message or "maximum recursion depth exceeded"
    return {"type": type(exc).__name__, "message": message[:4000], "line": _program_line(exc)}


def _reset_shared_state(imported: set[str]) -> None:
    """Reset process-wide state a program could have changed, so the next one cannot see it.

    Only modules the program imported can have been changed (they are reachable
    no other way), so only those are reset: reseeding numpy costs ~150 µs.
    """
    if "random" in imported:
        random.seed()
    if "decimal" in imported:
        decimal.setcontext(decimal.Context())
    if "numpy" in imported:
        import numpy

        numpy.random.seed()


class Worker:
    def __init__(self, policy: SandboxPolicy, max_output: int) -> None:
        self.policy = policy
        self.max_output = max_output
        self.codes: dict[str, Any] = {}

    def code_for(self, sha256: str, payload: bytes) -> Any:
        code = self.codes.get(sha256)
        if code is None:
            code = marshal.loads(payload)
            if len(self.codes) >= _CODE_CACHE_SIZE:
                self.codes.pop(next(iter(self.codes)))
            self.codes[sha256] = code
        return code

    def run(self, request: dict[str, Any], payload: bytes) -> dict[str, Any]:
        output = OutputBuffer(self.max_output)
        warnings_text = OutputBuffer(self.max_output)
        started = time.perf_counter()
        response: dict[str, Any] = {"type": "result", "id": request["id"], "ok": False, "result": None}
        recycle = False
        try:
            code = self.code_for(request["sha256"], payload)
            with limit_run(cpu_s=request["timeout_s"], memory_mb=request["memory_mb"]):
                namespace = self.policy.make_globals(inputs=decode_inputs(request["inputs"]), output=output)
                with warnings.catch_warnings(record=True) as caught:
                    warnings.simplefilter("default")
                    exec(code, namespace)
                for warning in caught:
                    warnings_text.write(f"{warning.category.__name__}: {warning.message}\n")
                result = encode_value(namespace.get("result"))
                encoded = json.dumps(result, separators=(",", ":"))
            if len(encoded) > MAX_RESULT_BYTES:
                raise UnserializableResult(f"the result is larger than {MAX_RESULT_BYTES // (1024 * 1024)} MB")
            response.update(ok=True, result=result, error=None)
        except BaseException as exc:  # noqa: BLE001 - whatever the program raises is reported, never fatal
            response["error"] = _describe(exc)
            recycle = isinstance(exc, MemoryError | RecursionError | SystemExit | KeyboardInterrupt)
        response.update(
            rss_mb=resident_mb(),
            stdout=output.getvalue(),
            stderr=warnings_text.getvalue(),
            duration_ms=round((time.perf_counter() - started) * 1000, 3),
            recycle=recycle,
        )
        return response

    def after_run(self) -> None:
        """Clean up after a run; called once its answer is on its way."""
        _reset_shared_state(self.policy.take_imported())


def _redirect_protocol_fds() -> tuple[int, int]:
    proto_in, proto_out = os.dup(0), os.dup(1)
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    os.close(devnull)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    return proto_in, proto_out


def _extra_modules(channel: HostChannel) -> dict[str, Any]:
    from coderunner.sandbox.docs_module import sandbox_module

    return {"dataflow_docs": sandbox_module(channel)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A Dataflow sandbox worker (started by coderunner).")
    parser.add_argument("--max-output", type=int, default=1024 * 1024)
    parser.add_argument("--allow-module", action="append", default=[], help="extra importable top-level module")
    parser.add_argument("--site-dir", action="append", default=[], help="directory of user-installed packages")
    args = parser.parse_args(argv)
    proto_in, proto_out = _redirect_protocol_fds()
    sys.path.extend(args.site_dir)
    channel = HostChannel(lambda: read_frame_sync(proto_in), lambda data: write_all_sync(proto_out, data))
    policy = SandboxPolicy(
        allowed_modules=DEFAULT_ALLOWED_MODULES | frozenset(args.allow_module), extra_modules=_extra_modules(channel)
    )
    policy.modules.preload()
    warm_up(policy)
    worker = Worker(policy, args.max_output)
    os.environ.clear()
    applied = isolate()
    try:
        write_all_sync(proto_out, encode_frame({"type": "ready", "pid": os.getpid(), "isolation": applied}))
        while True:
            request, payload = read_frame_sync(proto_in)
            if request.get("type") != "run":
                return
            write_all_sync(proto_out, encode_frame(worker.run(request, payload)))
            worker.after_run()
    except (EOFError, BrokenPipeError):
        return  # the service closed our pipes: it stopped or replaced us


if __name__ == "__main__":
    main()
