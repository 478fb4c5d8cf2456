"""MongoDB access through pymongo's AsyncMongoClient.

The server is FerretDB locally and MongoDB in production; code here sticks to
what both support. FerretDB 1.x has no TTL indexes and no multi-document
transactions, so expiry is done by the owning code and every multi-step
change is a sequence of single-document atomic updates.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect, ConnectionFailure, NetworkTimeout, ServerSelectionTimeoutError

from common.settings import Settings

#: pymongo errors that mean "the server is unreachable right now", not "the request is wrong".
TRANSIENT_MONGO_ERRORS: tuple[type[Exception], ...] = (
    AutoReconnect,
    ConnectionFailure,
    NetworkTimeout,
    ServerSelectionTimeoutError,
)


def create_mongo_client(settings: Settings, **overrides: Any) -> AsyncMongoClient:
    """An async client with short timeouts, so an unreachable server is a quick 503."""
    options: dict[str, Any] = {
        "serverSelectionTimeoutMS": settings.mongo_timeout_ms,
        "connectTimeoutMS": settings.mongo_timeout_ms,
        "tz_aware": True,
        "appname": "dataflow",
    }
    options.update(overrides)
    return AsyncMongoClient(settings.mongo_uri, **options)


def default_database(client: AsyncMongoClient) -> AsyncDatabase:
    """The database named in the URI (``dataflow`` unless configured)."""
    return client.get_default_database(default="dataflow")


async def ping(db: AsyncDatabase) -> None:
    await db.command("ping")


def as_utc(value: datetime) -> datetime:
    """A stored datetime as an aware UTC value (a client without ``tz_aware`` reads naive UTC datetimes)."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)
