"""``enrich``: add fields from a MongoDB document looked up by a field of the record.

One ``$in`` query per batch for the keys not in the cache; found documents
and misses are cached for ``cache_ttl_s`` (bounded by ``cache_size``), so a
hot key costs nothing after its first lookup. A MongoDB that cannot be reached
is not the record's fault: the error propagates, the worker rewinds to the
committed offsets and tries the batch again later, so nothing is dead-lettered
or lost because of it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any, Literal

from pydantic import Field

from stream_pipeline.records import DeadLetter, Record, get_path, set_path, split_path
from stream_pipeline.steps.base import Step, StepConfig, StepError

_ABSENT = object()


class EnrichConfig(StepConfig):
    type: Literal["enrich"]
    collection: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.-]+$")
    database: str | None = Field(None, description="default: the database of DATAFLOW_MONGO_URI")
    key: str = Field(description="field path of the record whose value is looked up")
    lookup_field: str = Field("_id", description="field of the collection's documents to match")
    fields: list[str] | None = Field(None, description="document fields to take (default all but _id)")
    into: str | None = Field(None, description="put the document under this field; default: merge its fields")
    on_missing: Literal["keep", "drop", "dead_letter"] = Field("keep", description="when no document matches")
    cache_ttl_s: float = Field(60, ge=0)
    cache_size: int = Field(10_000, ge=0)


class EnrichStep(Step):
    type = "enrich"
    config_model = EnrichConfig

    def __init__(self, config: EnrichConfig, *args: object) -> None:
        super().__init__(config, *args)  # type: ignore[arg-type]
        self.key = split_path(config.key)
        self.into = split_path(config.into) if config.into else None
        self.projection = dict.fromkeys(config.fields, 1) if config.fields else None
        self.cache: OrderedDict[Any, tuple[float, Any]] = OrderedDict()
        self._collection: Any = None

    @property
    def collection(self) -> Any:
        if self._collection is None:
            self._collection = self.context.mongo_database(self.config.database)[self.config.collection]
        return self._collection

    def lookup(self, keys: set[Any]) -> dict[Any, Any]:
        now = time.monotonic()
        found: dict[Any, Any] = {}
        missing = []
        for key in keys:
            entry = self.cache.get(key)
            if entry is not None and entry[0] > now:
                found[key] = entry[1]
            else:
                missing.append(key)
        if missing:
            fetched = dict.fromkeys(missing, _ABSENT)
            projection = {**self.projection, self.config.lookup_field: 1} if self.projection else None
            for document in self.collection.find({self.config.lookup_field: {"$in": missing}}, projection):
                fetched[document.get(self.config.lookup_field)] = document
            for key, document in fetched.items():
                found[key] = document
                if self.config.cache_size:
                    self.cache[key] = (now + self.config.cache_ttl_s, document)
                    self.cache.move_to_end(key)
            while len(self.cache) > self.config.cache_size:
                self.cache.popitem(last=False)
        return found

    def process(self, records: list[Record], dead: list[DeadLetter]) -> list[Record]:
        keys = {key for record in records if (key := _lookup_key(get_path(record.value, self.key))) is not None}
        documents = self.lookup(keys) if keys else {}
        survivors = []
        for record in records:
            try:
                if type(record.value) is not dict:
                    raise StepError(f"enrich needs a JSON object message, got {type(record.value).__name__}")
                document = documents.get(_lookup_key(get_path(record.value, self.key)), _ABSENT)
                if document is _ABSENT:
                    if self.config.on_missing == "dead_letter":
                        raise StepError(
                            f"no document in {self.config.collection!r} with {self.config.lookup_field} = "
                            f"{get_path(record.value, self.key)!r}"
                        )
                    if self.config.on_missing == "drop":
                        continue
                else:
                    self.merge(record.value, document)
            except StepError as exc:
                dead.append(DeadLetter.from_exception(record, self.label, exc))
                continue
            survivors.append(record)
        return survivors

    def merge(self, value: dict[str, Any], document: dict[str, Any]) -> None:
        taken = {
            field: _plain(item)
            for field, item in document.items()
            if (field != "_id" or (self.config.fields and "_id" in self.config.fields))
        }
        if self.into is not None:
            set_path(value, self.into, taken)
        else:
            value.update(taken)

    def close(self) -> None:
        self.cache.clear()


def _lookup_key(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool) else None


def _plain(value: Any) -> Any:
    """BSON values as JSON-friendly ones (ObjectId and datetimes as strings)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
