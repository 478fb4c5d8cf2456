"""What flows through a pipeline: records, dead letters and field paths.

A :class:`Record` is one message after decoding: its value (what steps see
and change), its Kafka key and coordinates, and the original bytes, kept so
that a dead letter carries exactly what was consumed. Records are plain
slotted objects rather than pydantic models: a worker makes tens of thousands
per second.
"""

from __future__ import annotations

from typing import Any

_MISSING = object()


class Record:
    """One message: ``value`` as steps see it, plus where it came from.

    ``topic``, ``partition`` and ``offset`` are where the worker consumed it
    (what it commits); ``origin`` is where it first entered the platform, which
    differs for a replayed dead letter.
    """

    __slots__ = ("headers", "key", "offset", "origin", "partition", "raw", "replay", "timestamp", "topic", "value")

    def __init__(
        self,
        value: Any,
        *,
        key: bytes | None = None,
        topic: str = "",
        partition: int = 0,
        offset: int = -1,
        timestamp: int | None = None,
        raw: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
        origin: tuple[str, int, int] | None = None,
    ) -> None:
        self.value = value
        self.key = key
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.timestamp = timestamp
        self.raw = raw
        self.headers = headers
        self.origin = origin
        #: True when the worker processed this message before a restart (its effect may already be out).
        self.replay = False

    @classmethod
    def of(
        cls,
        topic: str,
        partition: int,
        offset: int,
        key: bytes | None,
        timestamp: int | None,
        raw: bytes | None,
        headers: list[tuple[str, bytes]] | None,
        origin: tuple[str, int, int] | None,
    ) -> Record:
        """A consumed message not decoded yet: the worker's hot path, so no keyword arguments."""
        record = cls.__new__(cls)
        record.value = None
        record.topic, record.partition, record.offset, record.key = topic, partition, offset, key
        record.timestamp, record.raw, record.headers, record.origin = timestamp, raw, headers, origin
        record.replay = False
        return record

    def derive(self, value: Any, key: bytes | None = None) -> Record:
        """A new record produced from this one (a window result), keeping its coordinates."""
        return Record(
            value,
            key=key if key is not None else self.key,
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            timestamp=self.timestamp,
            raw=None,
            origin=self.origin,
        )

    @property
    def source(self) -> tuple[str, int, int]:
        """(topic, partition, offset) where the message first entered the platform."""
        return self.origin or (self.topic, self.partition, self.offset)

    def __repr__(self) -> str:
        return f"Record({self.topic}:{self.partition}@{self.offset} {self.value!r:.80})"


class DeadLetter:
    """A record that could not be processed, and why."""

    __slots__ = ("error_type", "message", "record", "stage")

    def __init__(self, record: Record, *, stage: str, error_type: str, message: str) -> None:
        self.record = record
        self.stage = stage
        self.error_type = error_type
        self.message = message

    @classmethod
    def from_exception(cls, record: Record, stage: str, exc: BaseException) -> DeadLetter:
        try:
            message = str(exc)
        except Exception:  # noqa: BLE001 - a broken __str__ in user code must not break the report
            message = repr(exc)
        return cls(record, stage=stage, error_type=type(exc).__name__, message=message[:4000])

    def __repr__(self) -> str:
        return f"DeadLetter({self.stage}: {self.error_type}: {self.message:.80})"


def split_path(path: str) -> tuple[str, ...]:
    """``"a.b.c"`` as its parts."""
    return tuple(path.split("."))


def get_path(value: Any, parts: tuple[str, ...], default: Any = None) -> Any:
    """The field at ``parts`` of nested objects, or ``default``."""
    for part in parts:
        if type(value) is not dict:
            return default
        value = value.get(part, _MISSING)
        if value is _MISSING:
            return default
    return value


def has_path(value: Any, parts: tuple[str, ...]) -> bool:
    return get_path(value, parts, _MISSING) is not _MISSING


def set_path(value: dict[str, Any], parts: tuple[str, ...], item: Any) -> None:
    """Set the field at ``parts``, creating intermediate objects."""
    for part in parts[:-1]:
        child = value.get(part)
        if type(child) is not dict:
            child = value[part] = {}
        value = child
    value[parts[-1]] = item


def pop_path(value: Any, parts: tuple[str, ...]) -> Any:
    """Remove and return the field at ``parts`` (``_MISSING`` sentinel semantics hidden: None if absent)."""
    for part in parts[:-1]:
        if type(value) is not dict:
            return None
        value = value.get(part)
    if type(value) is not dict:
        return None
    return value.pop(parts[-1], None)


def key_bytes(value: Any) -> bytes | None:
    """A Kafka key from a field value: text as UTF-8, numbers and booleans in their JSON form."""
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, bool):
        return b"true" if value else b"false"
    return str(value).encode()
