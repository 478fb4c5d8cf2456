"""``mongo``: upsert each record into a MongoDB collection by key, so a redelivery is idempotent.

The document's ``_id`` is the ``key`` field (or the fields joined with ``|``);
without ``key`` it is the Kafka key, or else ``<topic>:<partition>:<offset>``
of the source message, which is just as stable across redeliveries.
``mode: "replace"`` stores the message as the whole document; ``"merge"``
sets its fields on an existing one. One unordered bulk write per batch; a
document the server refuses (a field name with ``$``, too large) is
dead-lettered, a server that cannot be reached is retried.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field
from pymongo import ReplaceOne, UpdateOne
from pymongo.errors import BulkWriteError

from stream_pipeline.records import DeadLetter, Record, get_path, split_path
from stream_pipeline.sinks.base import Sink, SinkConfig

#: Server error codes that mean "this document, never" rather than "not now".
_TRANSIENT_CODES = frozenset({6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436})


class MongoSinkConfig(SinkConfig):
    type: Literal["mongo"]
    collection: str = Field(min_length=1, max_length=120, pattern=r"^[A-Za-z0-9_.-]+$")
    database: str | None = Field(None, description="default: the database of DATAFLOW_MONGO_URI")
    key: list[str] = Field(default_factory=list, description="field paths forming _id")
    mode: Literal["replace", "merge"] = "replace"


class MongoSink(Sink):
    type = "mongo"
    config_model = MongoSinkConfig

    def __init__(self, config: MongoSinkConfig, *args: Any) -> None:
        super().__init__(config, *args)
        self.key_paths = [split_path(path) for path in config.key]
        self.collection: Any = None

    def open(self) -> None:
        if self.collection is None:
            self.collection = self.context.mongo_database(self.config.database)[self.config.collection]

    def document_id(self, record: Record) -> Any:
        if self.key_paths:
            parts = [get_path(record.value, path) for path in self.key_paths]
            if any(part is None for part in parts):
                raise ValueError(f"key field(s) {self.config.key} missing in the message")
            return parts[0] if len(parts) == 1 else "|".join(str(part) for part in parts)
        if record.key is not None:
            try:
                return record.key.decode()
            except UnicodeDecodeError:
                return record.key.hex()
        topic, partition, offset = record.source
        return f"{topic}:{partition}:{offset}"

    def write(self, records: list[Record]) -> list[DeadLetter]:
        self.open()
        refused: list[DeadLetter] = []
        operations: list[Any] = []
        written: list[Record] = []
        for record in records:
            if type(record.value) is not dict:
                refused.append(self.refuse(record, "TypeError", "the mongo sink needs JSON object messages"))
                continue
            try:
                document_id = self.document_id(record)
            except ValueError as exc:
                refused.append(DeadLetter.from_exception(record, self.label, exc))
                continue
            document = {**record.value, "_id": document_id}
            if self.config.mode == "replace":
                operations.append(ReplaceOne({"_id": document_id}, document, upsert=True))
            else:
                operations.append(UpdateOne({"_id": document_id}, {"$set": document}, upsert=True))
            written.append(record)
        if operations:
            try:
                self.collection.bulk_write(operations, ordered=False)
            except BulkWriteError as exc:
                errors = exc.details.get("writeErrors", [])
                if not errors or any(error.get("code") in _TRANSIENT_CODES for error in errors):
                    raise
                refused.extend(
                    self.refuse(
                        written[error["index"]], "WriteError", f"MongoDB refused the document: {error['errmsg']}"
                    )
                    for error in errors
                )
        return refused

    def close(self) -> None:
        self.collection = None
