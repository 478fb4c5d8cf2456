"""``http``: POST records to a webhook as JSON arrays of ``batch_size``, retried with backoff.

Transport errors, 408, 429 and 5xx are retried (``max_attempts``, doubling
pauses); if the endpoint stays down the worker keeps the batch and tries
again later without committing. Any other 4xx means the endpoint refuses that
content: the requests's records are dead-lettered with the status and the
start of the answer. A receiver should be idempotent (a redelivered batch
carries the same records; the header ``Idempotency-Key`` is the same too).
"""

from __future__ import annotations

import hashlib
import time
from typing import Any, Literal

import httpx
from pydantic import Field, HttpUrl

from stream_pipeline.records import DeadLetter, Record
from stream_pipeline.sinks.base import Sink, SinkConfig, TransientSinkError, json_bytes

_RETRIED_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


class HttpSinkConfig(SinkConfig):
    type: Literal["http"]
    url: HttpUrl
    method: Literal["POST", "PUT"] = "POST"
    headers: dict[str, str] = Field(default_factory=dict, description="extra request headers (sent as given)")
    batch_size: int = Field(100, ge=1, le=10_000, description="records per request")
    timeout_s: float = Field(10, gt=0, le=300)
    max_attempts: int = Field(5, ge=1, le=20, description="attempts per request before the batch is retried later")


class HttpSink(Sink):
    type = "http"
    config_model = HttpSinkConfig

    def __init__(self, config: HttpSinkConfig, *args: Any) -> None:
        super().__init__(config, *args)
        self.client: httpx.Client | None = None

    def open(self) -> None:
        if self.client is None:
            self.client = httpx.Client(
                timeout=self.config.timeout_s,
                headers={"Content-Type": "application/json", "User-Agent": "dataflow-stream", **self.config.headers},
            )

    def write(self, records: list[Record]) -> list[DeadLetter]:
        self.open()
        refused: list[DeadLetter] = []
        size = self.config.batch_size
        for start in range(0, len(records), size):
            chunk = records[start : start + size]
            refused.extend(self.send(chunk))
        return refused

    def send(self, chunk: list[Record]) -> list[DeadLetter]:
        assert self.client is not None
        body = b"[" + b",".join(json_bytes(record.value) for record in chunk) + b"]"
        idempotency_key = hashlib.sha256(
            "|".join(f"{r.source[0]}:{r.source[1]}:{r.source[2]}" for r in chunk).encode()
        ).hexdigest()[:32]
        delay, problem = 0.25, ""
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                response = self.client.request(
                    self.config.method, str(self.config.url), content=body, headers={"Idempotency-Key": idempotency_key}
                )
            except httpx.TransportError as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return []
                if response.status_code not in _RETRIED_STATUSES:
                    message = f"the webhook answered {response.status_code}: {response.text[:500]}"
                    return [self.refuse(record, "HTTPStatusError", message) for record in chunk]
                problem = f"the webhook answered {response.status_code}"
            if attempt < self.config.max_attempts:
                time.sleep(delay)
                delay = min(delay * 2, 10.0)
        raise TransientSinkError(f"{self.config.url} failed {self.config.max_attempts} times; last: {problem}")

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
            self.client = None
