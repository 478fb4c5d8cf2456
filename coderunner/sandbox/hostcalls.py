"""Host calls: the few things a sandboxed program may ask the service to do for it.

A worker cannot start processes, so work that needs one (OCR runs the
tesseract binary) is done by the service on the worker's behalf: mid-run, the
worker sends a ``{"type": "call", "call": name, ...}`` frame with the bytes as
payload and blocks until the reply frame. The service answers only the calls
it registered, validates their arguments like any API input, and the whole
exchange counts against the program's wall-clock timeout. Errors travel back
as ``{"error": {"type", "message"}}`` and are raised in the program.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from coderunner.sandbox.protocol import encode_frame
from common.errors import DataflowError

log = logging.getLogger(__name__)

HostCall = Callable[[dict[str, Any], bytes], Awaitable[tuple[dict[str, Any], bytes]]]


async def answer_host_call(
    handlers: dict[str, HostCall], frame: dict[str, Any], payload: bytes
) -> tuple[dict[str, Any], bytes]:
    name = frame.get("call")
    handler = handlers.get(name) if isinstance(name, str) else None
    if handler is None:
        return {"type": "reply", "error": {"type": "SandboxViolation", "message": f"no host call {name!r}"}}, b""
    try:
        reply, reply_payload = await handler(frame.get("args") or {}, payload)
    except DataflowError as exc:
        return {"type": "reply", "error": {"type": type(exc).__name__, "message": exc.message}}, b""
    except Exception:
        log.exception("host call %s failed", name)
        return {"type": "reply", "error": {"type": "HostCallFailed", "message": f"the host could not do {name}"}}, b""
    return {"type": "reply", **reply}, reply_payload


class HostCallError(Exception):
    """Raised inside the program when the service refused or failed a host call."""


class HostChannel:
    """The worker's side: send a call over the protocol pipes and wait for the reply."""

    def __init__(self, read_frame: Callable[[], tuple[dict[str, Any], bytes]], write: Callable[[bytes], None]) -> None:
        self._read_frame = read_frame
        self._write = write

    def call(self, name: str, args: dict[str, Any], payload: bytes = b"") -> tuple[dict[str, Any], bytes]:
        self._write(encode_frame({"type": "call", "call": name, "args": args}, payload))
        reply, reply_payload = self._read_frame()
        if reply.get("error"):
            error = reply["error"]
            raise HostCallError(f"{error.get('type')}: {error.get('message')}")
        return reply, reply_payload
