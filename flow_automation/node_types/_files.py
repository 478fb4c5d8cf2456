"""Files between nodes: how a ``bytes`` input may arrive, and how it is sent to coderunner.

A file port carries the file's bytes (``bytes``). Because flow params and
HTTP bodies are JSON, an input may also be ``{"filename": ..., "content_base64":
...}`` (coderunner's own upload shape, which also names the file) or a bare
base64 string; all three are accepted everywhere a file is.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from flow_automation.node_types._base import NodeError


def file_input(inputs: Mapping[str, Any], name: str = "file") -> tuple[bytes, str | None]:
    """Input ``name`` as (content, filename or ``None``)."""
    if name not in inputs:
        raise NodeError(f"input {name!r} is missing; connect a file (bytes), e.g. an http.request's response")
    value = inputs[name]
    if isinstance(value, bytes | bytearray | memoryview):
        content, filename = bytes(value), None
    elif isinstance(value, Mapping) and "content_base64" in value:
        content = _base64(value["content_base64"], f"input {name!r}: content_base64")
        filename = str(value["filename"]) if value.get("filename") else None
    elif isinstance(value, str):
        content, filename = _base64(value, f"input {name!r}"), None
    else:
        raise NodeError(
            f"input {name!r} must be a file: bytes, a base64 string or {{filename, content_base64}}, "
            f"got {type(value).__name__}"
        )
    if not content:
        raise NodeError(f"input {name!r} is an empty file")
    return content, filename


def _base64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise NodeError(f"{what} must be base64 text, got {type(text).__name__}")
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise NodeError(f"{what} is not valid base64 ({exc})") from None


def upload(content: bytes, filename: str) -> dict[str, str]:
    """The JSON body coderunner's document endpoints take."""
    return {"filename": filename, "content_base64": base64.b64encode(content).decode()}
