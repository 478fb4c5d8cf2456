"""Frames between the service and its workers: a 4-byte length, then JSON.

Only JSON crosses from a worker to the service, never pickles: a worker runs
untrusted code, and whatever it sends is parsed as data. The service sends the
compiled program as ``marshal`` bytes (it trusts itself) after the JSON header.
"""

from __future__ import annotations

import asyncio
import json
import os
import struct
from typing import Any

_LENGTH = struct.Struct(">I")
MAX_FRAME = 256 * 1024 * 1024


def encode_frame(header: dict[str, Any], payload: bytes = b"") -> bytes:
    body = json.dumps(header, separators=(",", ":"), default=str).encode()
    return _LENGTH.pack(len(body)) + body + _LENGTH.pack(len(payload)) + payload


def _read_exactly(fd: int, size: int) -> bytes:
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError("the other side closed the pipe")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_frame_sync(fd: int) -> tuple[dict[str, Any], bytes]:
    """Blocking read of one frame (the worker side)."""
    (length,) = _LENGTH.unpack(_read_exactly(fd, 4))
    header = json.loads(_read_exactly(fd, length))
    (payload_length,) = _LENGTH.unpack(_read_exactly(fd, 4))
    return header, _read_exactly(fd, payload_length) if payload_length else b""


def write_all_sync(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


async def read_frame(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    """Read one frame from a worker; a malformed frame is an error, never trusted."""
    (length,) = _LENGTH.unpack(await reader.readexactly(4))
    if length > MAX_FRAME:
        raise ValueError(f"frame of {length} bytes exceeds the limit")
    header = json.loads(await reader.readexactly(length))
    if not isinstance(header, dict):
        raise ValueError("frame header is not a JSON object")
    (payload_length,) = _LENGTH.unpack(await reader.readexactly(4))
    if payload_length > MAX_FRAME:
        raise ValueError(f"payload of {payload_length} bytes exceeds the limit")
    payload = await reader.readexactly(payload_length) if payload_length else b""
    return header, payload
