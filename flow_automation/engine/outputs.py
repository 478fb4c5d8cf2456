"""Task outputs at rest: tables as Parquet, small ones inline in MongoDB, large ones in the artifact store.

An output is stored as a small reference document:

- ``{"kind": "table", "data": <parquet bytes>}`` or ``{"kind": "table", "uri": ...}``
- ``{"kind": "bytes", "data": <bytes>}`` or ``{"kind": "bytes", "uri": ...}``
- ``{"kind": "json", "value": ...}`` or ``{"kind": "json", "uri": ...}``

Anything above ``DATAFLOW_FLOW_INLINE_OUTPUT_BYTES`` goes to the artifact
store, a directory (``<state>/artifacts`` by default) or any URI pyarrow's
filesystems understand (``s3://bucket/prefix``), so executors on several
machines share it. A preview of every output (first rows of a table, the
start of a text, an image as data) is kept for the UI.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from bson import Binary

from common.settings import Settings
from common.web.handlers import to_jsonable

PREVIEW_ROWS = 20
PREVIEW_TEXT_CHARS = 4000
PREVIEW_IMAGE_BYTES = 256 * 1024
_IMAGE_MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif"}


class ArtifactStore:
    def __init__(self, settings: Settings) -> None:
        uri = settings.artifacts_uri or str(Path(settings.state_dir, "artifacts").resolve())
        self.filesystem, self.root = pafs.FileSystem.from_uri(uri) if "://" in uri else (pafs.LocalFileSystem(), uri)
        self.uri = uri
        self.inline_limit = settings.flow_inline_output_bytes

    def write(self, key: str, data: bytes) -> str:
        path = f"{self.root.rstrip('/')}/{key}"
        self.filesystem.create_dir(path.rsplit("/", 1)[0], recursive=True)
        with self.filesystem.open_output_stream(path) as stream:
            stream.write(data)
        return key

    def read(self, key: str) -> bytes:
        with self.filesystem.open_input_stream(f"{self.root.rstrip('/')}/{key}") as stream:
            return bytes(stream.read())

    def delete_prefix(self, prefix: str) -> None:
        with contextlib.suppress(FileNotFoundError, OSError):
            self.filesystem.delete_dir(f"{self.root.rstrip('/')}/{prefix}")

    # -- encoding ------------------------------------------------------------------

    def encode(self, key: str, value: Any) -> dict[str, Any]:
        """The stored reference of one output value (``key`` names it in the artifact store)."""
        if isinstance(value, pd.DataFrame):
            data = table_to_parquet(value)
            kind = "table"
        elif isinstance(value, bytes | bytearray | memoryview):
            data, kind = bytes(value), "bytes"
        else:
            # Kept as JSON text: MongoDB field names may not contain "." or start with "$".
            data = json.dumps(to_jsonable(value), separators=(",", ":"), default=str).encode()
            if len(data) <= self.inline_limit:
                return {"kind": "json", "text": data.decode()}
            kind = "json"
        if len(data) <= self.inline_limit:
            return {"kind": kind, "data": Binary(data)}
        return {"kind": kind, "uri": self.write(f"{key}.{'parquet' if kind == 'table' else kind}", data)}

    def decode(self, stored: dict[str, Any]) -> Any:
        kind = stored.get("kind")
        if kind == "json" and "text" in stored:
            return json.loads(stored["text"])
        if kind == "json" and "value" in stored:
            return stored["value"]
        data = bytes(stored["data"]) if "data" in stored else self.read(stored["uri"])
        if kind == "table":
            return pq.read_table(io.BytesIO(data)).to_pandas()
        if kind == "json":
            return json.loads(data)
        return data


def table_to_parquet(table: pd.DataFrame) -> bytes:
    frame = table.copy(deep=False)
    frame.columns = [str(column) for column in frame.columns]
    buffer = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buffer, compression="zstd")
    return buffer.getvalue()


def preview(value: Any) -> dict[str, Any]:
    """A small, JSON-ready look at an output for the run view."""
    if isinstance(value, pd.DataFrame):
        head = value.head(PREVIEW_ROWS)
        return {
            "kind": "table",
            "rows": len(value),
            "columns": [{"name": str(name), "type": str(dtype)} for name, dtype in value.dtypes.items()],
            "head": _clean(json.loads(head.to_json(orient="records", date_format="iso", default_handler=str))),
        }
    if isinstance(value, bytes | bytearray):
        media_type = next((t for magic, t in _IMAGE_MAGIC.items() if bytes(value[:4]).startswith(magic)), None)
        if media_type and len(value) <= PREVIEW_IMAGE_BYTES:
            return {
                "kind": "image",
                "media_type": media_type,
                "size": len(value),
                "data_base64": base64.b64encode(bytes(value)).decode(),
            }
        return {"kind": "bytes", "size": len(value)}
    if isinstance(value, str):
        return {
            "kind": "text",
            "length": len(value),
            "text": value[:PREVIEW_TEXT_CHARS],
            "truncated": len(value) > PREVIEW_TEXT_CHARS,
        }
    text = json.dumps(to_jsonable(value), default=str)
    if len(text) <= PREVIEW_TEXT_CHARS:
        return {"kind": "json", "json": text}  # decoded by the API (field names may hold ".")
    return {"kind": "json", "text": text[:PREVIEW_TEXT_CHARS], "truncated": True}


def preview_view(stored: dict[str, Any]) -> dict[str, Any]:
    """A stored preview as the API shows it: JSON values decoded again."""
    if stored.get("kind") == "json" and "json" in stored:
        return {"kind": "json", "value": json.loads(stored["json"])}
    return stored


def _clean(value: Any) -> Any:
    """NaN and infinities become null: JSON has neither."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    return value
