"""``mongo.find``: read documents from a MongoDB collection of a data connection.

The filter may use MongoDB Extended JSON for the types JSON lacks
(``{"_id": {"$oid": "..."}}``, ``{"at": {"$gte": {"$date": "2024-01-01T00:00:00Z"}}}``).
Documents come out as a table, one row per document: ObjectIds as their hex
text, nested documents and arrays as they are (one cell each).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import Field

from flow_automation.node_types._base import (
    NodeCanceled,
    NodeConfig,
    NodeContext,
    NodeError,
    NodeType,
    Port,
    PortKind,
)
from flow_automation.node_types._connections import (
    connection_field,
    data_connection,
    failure,
    mongo_client,
    mongo_database,
)

#: Documents per batch from the server; a cancel is noticed between batches.
BATCH_SIZE = 1000


class MongoSortKey(NodeConfig):
    field: str = Field(min_length=1, title="Field")
    descending: bool = Field(False, title="Descending")


class MongoFindConfig(NodeConfig):
    connection: str = connection_field("MongoDB")
    collection: str = Field(min_length=1, max_length=255, title="Collection")
    filter: dict[str, Any] = Field(
        default_factory=dict, title="Filter", description='a MongoDB query document, e.g. {"status": "open"}'
    )
    projection: dict[str, Any] | None = Field(
        None, title="Projection", description='fields to return, e.g. {"_id": 0, "name": 1}; empty: all'
    )
    sort: list[MongoSortKey] = Field(default_factory=list, title="Sort")
    limit: int = Field(10_000, ge=1, le=10_000_000, title="Limit", description="at most this many documents")


def run(context: NodeContext[MongoFindConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    from pymongo.errors import PyMongoError

    config = context.config
    query = query_document(config.filter, inputs.get("filter"))
    connection = data_connection(context, config.connection, "mongo")
    try:
        with mongo_client(connection) as client:
            collection = mongo_database(client, connection)[config.collection]
            cursor = collection.find(query, projection=config.projection, limit=config.limit, batch_size=BATCH_SIZE)
            if config.sort:
                cursor = cursor.sort([(key.field, -1 if key.descending else 1) for key in config.sort])
            documents = []
            for document in cursor:
                if len(documents) % BATCH_SIZE == 0 and context.cancelled.is_set():
                    raise NodeCanceled(f"node {context.node_id} was canceled while reading documents")
                documents.append(plain(document))
    except PyMongoError as exc:
        raise failure(f"reading collection {config.collection!r} failed", exc, connection) from None
    return {"table": pd.DataFrame(documents)}


def query_document(configured: Mapping[str, Any], given: Any) -> dict[str, Any]:
    """The configured filter with the ``filter`` input over it, Extended JSON decoded."""
    from bson import json_util

    if given is not None and not isinstance(given, Mapping):
        raise NodeError(f"input 'filter' must be a JSON object (a query document), got {type(given).__name__}")
    merged = {**configured, **(given or {})}
    try:
        return json_util.loads(json.dumps(merged, default=str))
    except (TypeError, ValueError) as exc:
        raise NodeError(f"field 'filter' is not a valid query document: {exc}") from None


def plain(value: Any) -> Any:
    """A document with BSON-only types as plain values: ObjectId as text, Decimal128 as Decimal."""
    from bson import Decimal128, ObjectId
    from bson.binary import Binary

    if isinstance(value, Mapping):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, Decimal128):
        return value.to_decimal()
    if isinstance(value, Binary):
        return bytes(value)
    return value


NODE_TYPE = NodeType(
    id="mongo.find",
    title="MongoDB find",
    category="MongoDB",
    description="Read documents from a MongoDB collection; they come out as a table, one row per document.",
    inputs=(
        Port(
            name="filter",
            kind=PortKind.JSON,
            description="a query document merged over the configured filter",
            required=False,
        ),
    ),
    outputs=(Port(name="table", kind=PortKind.TABLE, description="the documents, one row each"),),
    config_model=MongoFindConfig,
    run=run,
)
