"""``dedupe``: drop a record whose key was already seen within a time window.

Time is event time: a field (``time_field``) or the Kafka timestamp, so a
replay after a restart decides the same way. Memory is bounded: keys older
than the window are forgotten as time moves on, and past ``max_keys`` the
oldest are forgotten first. The memory is per worker and is not kept across
restarts or rebalances, so after one a duplicate may pass once (at least
once, never lost).
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Literal

from pydantic import Field, field_validator

from stream_pipeline.expressions import check_expression, compile_expression
from stream_pipeline.records import DeadLetter, Record, split_path
from stream_pipeline.steps.base import Step, StepConfig, event_time_ms


class DedupeConfig(StepConfig):
    type: Literal["dedupe"]
    key: str = Field(description="expression giving the key, e.g. 'order_id' or \"concat(user, ':', order_id)\"")
    window_s: float = Field(gt=0, le=7 * 24 * 3600, description="a key seen again within this many seconds is dropped")
    time_field: str | None = Field(None, description="event-time field; default the Kafka timestamp")
    max_keys: int = Field(1_000_000, ge=1, description="keys remembered at most")

    _check = field_validator("key")(check_expression)


class DedupeStep(Step):
    type = "dedupe"
    config_model = DedupeConfig

    def __init__(self, config: DedupeConfig, *args: object) -> None:
        super().__init__(config, *args)  # type: ignore[arg-type]
        self.key = compile_expression(config.key)
        self.window_ms = int(config.window_s * 1000)
        self.time_field = split_path(config.time_field) if config.time_field else None
        self.seen: OrderedDict[object, int] = OrderedDict()
        self.latest_ms = 0

    def process(self, records: list[Record], dead: list[DeadLetter]) -> list[Record]:
        survivors = []
        for record in records:
            try:
                key = self.key(record)
                at = event_time_ms(record, self.time_field)
            except Exception as exc:  # noqa: BLE001 - this record only
                dead.append(DeadLetter.from_exception(record, self.label, exc))
                continue
            if key is None:
                survivors.append(record)
                continue
            key = _hashable(key)
            first_seen = self.seen.get(key)
            if first_seen is not None and abs(at - first_seen) < self.window_ms:
                continue
            self.seen[key] = at
            self.seen.move_to_end(key)
            survivors.append(record)
            self.latest_ms = max(self.latest_ms, at)
        self._expire()
        return survivors

    def _expire(self) -> None:
        horizon = self.latest_ms - self.window_ms
        seen = self.seen
        while seen and (len(seen) > self.config.max_keys or next(iter(seen.values())) < horizon):
            seen.popitem(last=False)

    def reset(self) -> None:
        self.seen.clear()
        self.latest_ms = 0


def _hashable(value: object) -> object:
    if isinstance(value, list):
        return tuple(_hashable(item) for item in value)
    if isinstance(value, dict):
        return tuple(sorted((key, _hashable(item)) for key, item in value.items()))
    return value
