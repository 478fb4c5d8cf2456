"""Cursor pagination shared by every list endpoint.

Lists are newest first (by ``_id``) and answer ``{"items": [...],
"next_cursor": "..."}``; passing ``next_cursor`` back as ``cursor`` gives the
next page, and ``null`` means the end. A cursor is the last ``_id`` seen, so
pages stay stable while new objects are added.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Generic, TypeVar

from bson import ObjectId
from bson.errors import InvalidId
from pydantic import BaseModel, Field
from pymongo import DESCENDING
from pymongo.asynchronous.collection import AsyncCollection

from common.errors import InvalidArgument

T = TypeVar("T")


class PageQuery(BaseModel):
    limit: int = Field(50, ge=1, le=500, description="page size")
    cursor: str | None = Field(None, description="next_cursor of the previous page")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


async def find_page(
    collection: AsyncCollection, query: dict[str, Any], *, limit: int, cursor: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of documents matching ``query``, newest first, and the next cursor."""
    if cursor:
        query = {**query, "_id": {"$lt": decode_cursor(cursor)}}
    documents = await collection.find(query).sort("_id", DESCENDING).limit(limit + 1).to_list()
    next_cursor = encode_cursor(documents[limit - 1]["_id"]) if len(documents) > limit else None
    return documents[:limit], next_cursor


def encode_cursor(last_id: Any) -> str:
    """An opaque cursor for the ``_id`` a page ended with (ObjectIds and strings)."""
    kind, value = ("o", str(last_id)) if isinstance(last_id, ObjectId) else ("s", str(last_id))
    return base64.urlsafe_b64encode(json.dumps([kind, value]).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    try:
        kind, value = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        return ObjectId(value) if kind == "o" else str(value)
    except (ValueError, TypeError, InvalidId) as exc:
        raise InvalidArgument(f"cursor {cursor[:60]!r} is not a cursor this service returned") from exc


async def list_page(collection: AsyncCollection, query: dict[str, Any], page: PageQuery) -> dict[str, Any]:
    """A list response body: the page's documents with ``_id`` exposed as ``id``."""
    documents, next_cursor = await find_page(collection, query, limit=page.limit, cursor=page.cursor)
    for document in documents:
        document["id"] = str(document.pop("_id"))
    return {"items": documents, "next_cursor": next_cursor}
