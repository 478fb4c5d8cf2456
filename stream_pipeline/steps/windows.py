"""``tumbling_window`` and ``sliding_window``: aggregations by key over event-time windows.

Windows are ``[start, end)`` in event time (a field, or the Kafka timestamp).
Tumbling windows of ``size_s`` do not overlap; sliding windows of ``size_s``
start every ``slide_s``, so one event counts in ``size_s / slide_s`` of them.

The watermark is the highest event time seen. A window closes, and its result
is emitted once, when the watermark reaches ``end + allowed_lateness_s``;
until then out-of-order events still count. An event whose windows have all
closed is late: it goes to the dead-letter topic (``late: "dead_letter"``,
the default) or is dropped (``late: "drop"``).

Results are ``{<group-by fields>, "window_start", "window_end", <aggregations>}``
with ISO 8601 UTC times, keyed ``<group values>|<window_start>``, so an
upsert sink keeps one row per window and key.

Open windows hold their records' offsets: the worker commits no further than
the lowest offset an open window contains, and saves the watermark with the
commit. After a restart or a rebalance the open windows are rebuilt by
replaying from there, while events of windows that had already closed are
recognised as late by the restored watermark and not counted twice.
"""

from __future__ import annotations

import heapq
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from stream_pipeline.records import DeadLetter, Record, get_path, key_bytes, set_path, split_path
from stream_pipeline.steps.base import Step, StepConfig, StepError, event_time_ms, iso_ms


class Aggregation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    op: Literal["count", "sum", "avg", "min", "max"]
    field: str | None = Field(None, description="the numeric field; count without a field counts records")

    @model_validator(mode="after")
    def _needs_field(self) -> Aggregation:
        if self.op != "count" and not self.field:
            raise ValueError(f"aggregation {self.op!r} needs a 'field'")
        return self


class WindowConfig(StepConfig):
    size_s: float = Field(gt=0, le=366 * 24 * 3600, description="window length in seconds")
    allowed_lateness_s: float = Field(0, ge=0, description="how long after its end a window still takes events")
    time_field: str | None = Field(None, description="event-time field; default the Kafka timestamp")
    group_by: list[str] = Field(default_factory=list, description="field paths to aggregate by")
    aggregations: dict[str, Aggregation] = Field(min_length=1, description="output field -> aggregation")
    late: Literal["dead_letter", "drop"] = "dead_letter"


class TumblingWindowConfig(WindowConfig):
    type: Literal["tumbling_window"]


class SlidingWindowConfig(WindowConfig):
    type: Literal["sliding_window"]
    slide_s: float = Field(gt=0, description="a new window starts every slide_s seconds")

    @model_validator(mode="after")
    def _slide_fits(self) -> SlidingWindowConfig:
        if self.slide_s > self.size_s:
            raise ValueError("slide_s must not be larger than size_s (that would leave gaps)")
        if self.size_s / self.slide_s > 1000:
            raise ValueError("size_s / slide_s must be at most 1000 (each event counts in that many windows)")
        return self


class _Window:
    __slots__ = ("count", "group", "last", "min_offsets", "start", "values")

    def __init__(self, group: tuple[Any, ...], start: int, aggregations: int) -> None:
        self.group = group
        self.start = start
        self.count = 0
        self.values: list[list[float]] = [[0, 0, None, None] for _ in range(aggregations)]  # n, sum, min, max
        self.min_offsets: dict[tuple[str, int], int] = {}
        self.last: Record | None = None


class WindowStep(Step):
    """Shared by both window types; they differ only in which windows an event falls into."""

    config_model: type[WindowConfig]

    def __init__(self, config: WindowConfig, *args: object) -> None:
        super().__init__(config, *args)  # type: ignore[arg-type]
        self.size_ms = int(config.size_s * 1000)
        self.slide_ms = int(getattr(config, "slide_s", config.size_s) * 1000)
        self.lateness_ms = int(config.allowed_lateness_s * 1000)
        self.time_field = split_path(config.time_field) if config.time_field else None
        self.group_paths = [split_path(path) for path in config.group_by]
        self.aggregations = [
            (name, aggregation.op, split_path(aggregation.field) if aggregation.field else None)
            for name, aggregation in config.aggregations.items()
        ]
        self.reset()

    def reset(self) -> None:
        self.windows: dict[tuple[tuple[Any, ...], int], _Window] = {}
        self.closing: list[tuple[int, int, tuple[tuple[Any, ...], int]]] = []  # heap of (end, sequence, window id)
        self.sequence = 0
        self.watermark: int | None = None

    def window_starts(self, at: int) -> list[int]:
        """Starts of the windows ``[start, start + size)`` containing ``at``, oldest first."""
        start = at - at % self.slide_ms
        starts = []
        while start > at - self.size_ms:
            starts.append(start)
            start -= self.slide_ms
        starts.reverse()
        return starts

    def is_closed(self, start: int) -> bool:
        return self.watermark is not None and start + self.size_ms + self.lateness_ms <= self.watermark

    def process(self, records: list[Record], dead: list[DeadLetter]) -> list[Record]:
        for record in records:
            try:
                self.add(record)
            except Exception as exc:  # noqa: BLE001 - this record only
                dead.append(DeadLetter.from_exception(record, self.label, exc))
        return self.emit_closed()

    def add(self, record: Record) -> None:
        at = event_time_ms(record, self.time_field)
        group = tuple(_group_value(get_path(record.value, path)) for path in self.group_paths)
        inputs = [self.numeric(record, op, path) for _, op, path in self.aggregations]
        open_starts = [start for start in self.window_starts(at) if not self.is_closed(start)]
        if not open_starts:
            if record.replay:
                return  # counted before a restart, in a window that has been emitted since
            if self.config.late == "dead_letter":
                raise LateEvent(
                    f"late event at {iso_ms(at)}: its window closed when the watermark passed "
                    f"{iso_ms(at - at % self.slide_ms + self.size_ms + self.lateness_ms)}"
                )
            return
        partition = (record.topic, record.partition)
        for start in open_starts:
            window = self.windows.get((group, start))
            if window is None:
                window = self.windows[(group, start)] = _Window(group, start, len(self.aggregations))
                self.sequence += 1
                heapq.heappush(self.closing, (start + self.size_ms, self.sequence, (group, start)))
            window.count += 1
            window.last = record
            if record.offset >= 0 and window.min_offsets.get(partition, record.offset) >= record.offset:
                window.min_offsets[partition] = record.offset
            for accumulator, value in zip(window.values, inputs, strict=True):
                if value is not None:
                    accumulator[0] += 1
                    accumulator[1] += value
                    accumulator[2] = value if accumulator[2] is None else min(accumulator[2], value)
                    accumulator[3] = value if accumulator[3] is None else max(accumulator[3], value)
        self.watermark = at if self.watermark is None else max(self.watermark, at)

    @staticmethod
    def numeric(record: Record, op: str, path: tuple[str, ...] | None) -> float | None:
        if path is None:
            return None
        value = get_path(record.value, path)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise StepError(f"{op} needs a number in field {'.'.join(path)!r}, got {type(value).__name__}")
        return value

    def emit_closed(self, everything: bool = False) -> list[Record]:
        emitted = []
        while self.closing and (everything or self.is_closed(self.closing[0][2][1])):
            _, _, window_id = heapq.heappop(self.closing)
            window = self.windows.pop(window_id, None)
            if window is not None:
                emitted.append(self.result(window))
        return emitted

    def result(self, window: _Window) -> Record:
        value: dict[str, Any] = {}
        for path, group_value in zip(self.group_paths, window.group, strict=True):
            set_path(value, path, group_value)
        value["window_start"] = iso_ms(window.start)
        value["window_end"] = iso_ms(window.start + self.size_ms)
        for (name, op, path), (n, total, low, high) in zip(self.aggregations, window.values, strict=True):
            if op == "count":
                value[name] = window.count if path is None else n
            elif op == "sum":
                value[name] = total
            elif op == "avg":
                value[name] = total / n if n else None
            else:
                value[name] = low if op == "min" else high
        key = "|".join(str(item) for item in window.group) + f"|{value['window_start']}"
        assert window.last is not None
        return window.last.derive(value, key=key_bytes(key))

    def held_offsets(self) -> dict[tuple[str, int], int]:
        held: dict[tuple[str, int], int] = {}
        for window in self.windows.values():
            for partition, offset in window.min_offsets.items():
                if offset < held.get(partition, offset + 1):
                    held[partition] = offset
        return held

    def checkpoint(self) -> Any:
        return {"watermark": self.watermark} if self.watermark is not None else None

    def restore(self, checkpoint: Any) -> None:
        if isinstance(checkpoint, dict) and isinstance(checkpoint.get("watermark"), int):
            saved = checkpoint["watermark"]
            self.watermark = saved if self.watermark is None else max(self.watermark, saved)

    def drain(self) -> list[Record]:
        return self.emit_closed(everything=True)


class TumblingWindowStep(WindowStep):
    type = "tumbling_window"
    config_model = TumblingWindowConfig


class SlidingWindowStep(WindowStep):
    type = "sliding_window"
    config_model = SlidingWindowConfig


class LateEvent(StepError):
    """An event arrived after every window it belongs to had closed."""


def _group_value(value: Any) -> Any:
    if isinstance(value, list | dict):
        raise StepError("group_by fields must hold a number, string, boolean or null, not a list or object")
    return value
