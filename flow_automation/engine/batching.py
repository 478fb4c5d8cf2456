"""Group commit for inserts: concurrent callers share one ``insert_many`` per collection.

On FerretDB a batch of ten documents costs about what one costs (measured
here: 1.0 ms for one, 1.05 ms for ten, 1.6 ms for fifty), and the server
serialises writes. So while one batch for a collection is on its way, every
insert asked for that collection waits and goes in the next batch together.
A lone caller pays one round trip, as before; ten chains advancing at once
pay one round trip between them instead of ten.

Batches are ``ordered=False``: a duplicate ``_id`` (a decision someone else
took first) fails only that document, and each caller learns, per document,
whether it was inserted.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

DUPLICATE_KEY = 11000
#: Collection handles kept (one per run journal written to lately): pymongo builds a new one per
#: ``db[name]``, which took about 6% of an executor's time in a chain of short tasks.
COLLECTION_CACHE_SIZE = 1024


class InsertBatcher:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self._pending: dict[str, list[tuple[list[dict[str, Any]], asyncio.Future[list[bool]]]]] = {}
        self._draining: set[str] = set()
        self._collections: OrderedDict[str, AsyncCollection] = OrderedDict()

    def collection(self, name: str) -> AsyncCollection:
        """``db[name]``, kept for the next call."""
        collection = self._collections.get(name)
        if collection is None:
            collection = self._collections[name] = self.db[name]
            if len(self._collections) > COLLECTION_CACHE_SIZE:
                self._collections.popitem(last=False)
        else:
            self._collections.move_to_end(name)
        return collection

    async def insert(self, collection: str, documents: list[dict[str, Any]]) -> list[bool]:
        """Insert ``documents``; for each, whether it was inserted (``False``: its ``_id`` existed)."""
        return await self.submit(collection, documents)

    def submit(self, collection: str, documents: list[dict[str, Any]]) -> asyncio.Future[list[bool]]:
        """:meth:`insert` without waiting: the batch that takes ``documents`` goes out before callbacks
        scheduled (``call_soon``) after this call run, so those overlap its round trip."""
        future: asyncio.Future[list[bool]] = asyncio.get_running_loop().create_future()
        if not documents:
            future.set_result([])
            return future
        self._pending.setdefault(collection, []).append((documents, future))
        if collection not in self._draining:
            self._draining.add(collection)
            asyncio.get_running_loop().create_task(self._drain(collection))
        return future

    async def _drain(self, collection: str) -> None:
        try:
            while self._pending.get(collection):
                batch = self._pending.pop(collection)
                await self._write(collection, batch)
        finally:
            self._draining.discard(collection)

    async def _write(
        self, collection: str, batch: list[tuple[list[dict[str, Any]], asyncio.Future[list[bool]]]]
    ) -> None:
        documents = [document for documents, _ in batch for document in documents]
        duplicates: set[int] = set()
        failed: set[int] = set()  # documents refused for another reason (too large, say)
        error: BaseException | None = None
        try:
            await self.collection(collection).insert_many(documents, ordered=False)
        except BulkWriteError as exc:
            error = exc
            for write_error in exc.details.get("writeErrors", []):
                index = int(write_error["index"])
                (duplicates if write_error.get("code") == DUPLICATE_KEY else failed).add(index)
        except Exception as exc:  # noqa: BLE001 - handed to every caller of this batch
            error = exc
            failed = set(range(len(documents)))
        position = 0
        for documents, future in batch:
            indexes = range(position, position + len(documents))
            position += len(documents)
            if future.done():
                continue
            if error is not None and any(index in failed for index in indexes):
                future.set_exception(error)
            else:
                future.set_result([index not in duplicates for index in indexes])
