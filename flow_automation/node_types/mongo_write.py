"""``mongo.write``: write rows (or JSON documents) into a MongoDB collection.

``insert`` adds every document; ``upsert`` replaces the document with the
same ``key`` fields or inserts it, so re-running a flow does not duplicate
documents. Writes go in unordered bulk batches (FerretDB and MongoDB both
take them); a row missing a key field fails the node before anything is
written, naming the field and the row.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from flow_automation.node_types._base import NodeCanceled, NodeConfig, NodeContext, NodeError, NodeType, Port, PortKind
from flow_automation.node_types._connections import (
    connection_field,
    data_connection,
    failure,
    mongo_client,
    mongo_database,
)
from flow_automation.node_types._records import documents_input

BATCH_SIZE = 1000


class MongoWriteConfig(NodeConfig):
    connection: str = connection_field("MongoDB")
    collection: str = Field(min_length=1, max_length=255, title="Collection")
    mode: Literal["insert", "upsert"] = Field(
        "insert", title="Mode", description="insert every document; or upsert by the key fields"
    )
    key: list[str] = Field(default_factory=list, title="Key fields", description="fields identifying a document")

    @model_validator(mode="after")
    def _upsert_needs_a_key(self) -> MongoWriteConfig:
        if self.mode == "upsert" and not self.key:
            raise ValueError("mode 'upsert' needs the key fields that identify a document")
        return self


def run(context: NodeContext[MongoWriteConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    from pymongo.errors import BulkWriteError, PyMongoError

    config = context.config
    documents = documents_input(inputs, "documents")
    operations = write_operations(documents, config)
    connection = data_connection(context, config.connection, "mongo")
    inserted = updated = 0
    try:
        with mongo_client(connection) as client:
            collection = mongo_database(client, connection)[config.collection]
            for start in range(0, len(operations), BATCH_SIZE):
                if context.cancelled.is_set():
                    raise NodeCanceled(f"node {context.node_id} was canceled after writing {inserted + updated}")
                result = collection.bulk_write(operations[start : start + BATCH_SIZE], ordered=False)
                inserted += result.inserted_count + result.upserted_count
                updated += result.matched_count
    except BulkWriteError as exc:
        first = (exc.details.get("writeErrors") or [{}])[0]
        raise NodeError(
            f"writing to collection {config.collection!r} failed for document {first.get('index', '?')}: "
            f"{first.get('errmsg', exc)}"
        ) from None
    except PyMongoError as exc:
        raise failure(f"writing to collection {config.collection!r} failed", exc, connection) from None
    return {"result": {"inserted": inserted, "updated": updated}}


def write_operations(documents: list[dict[str, Any]], config: MongoWriteConfig) -> list[Any]:
    from pymongo import InsertOne, ReplaceOne

    if config.mode == "insert":
        return [InsertOne(document) for document in documents]
    operations = []
    for index, document in enumerate(documents):
        missing = [field for field in config.key if field not in document]
        if missing:
            raise NodeError(f"document {index} lacks the key field(s) {missing} (field 'key'); every one needs them")
        operations.append(ReplaceOne({field: document[field] for field in config.key}, document, upsert=True))
    return operations


NODE_TYPE = NodeType(
    id="mongo.write",
    title="MongoDB write",
    category="MongoDB",
    description="Insert or upsert documents into a MongoDB collection, one per row (or per JSON item).",
    inputs=(Port(name="documents", kind=PortKind.ANY, description="a table, or a JSON list of documents"),),
    outputs=(Port(name="result", kind=PortKind.JSON, description="{inserted, updated}"),),
    config_model=MongoWriteConfig,
    run=run,
)
