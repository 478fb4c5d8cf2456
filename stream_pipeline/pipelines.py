"""Pipeline definitions in MongoDB: create, read, replace, delete, start and stop.

One document per pipeline, ``_id`` its id. Every change of the definition
increments ``version``; workers compare versions to pick up edits without a
restart. ``state`` is the desired state (``running`` or ``stopped``) that
workers reconcile to. A unique index on ``group`` keeps two pipelines from
sharing a consumer group, which would split each other's messages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo import ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.errors import Conflict, InvalidDefinition, NotFound
from common.pagination import PageQuery, find_page
from stream_pipeline.constants import PIPELINES_COLLECTION, REPLAYS_COLLECTION, WORKER_STATUS_COLLECTION
from stream_pipeline.models import Pipeline, PipelineSpec, PipelineState, pipeline_from_document, stored_fields

KIND = "pipeline"


class PipelineStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.db = db
        self.collection = db[PIPELINES_COLLECTION]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("group", unique=True)
        await self.collection.create_index("state")
        await self.db[WORKER_STATUS_COLLECTION].create_index("pipeline_id")

    async def create(self, spec: PipelineSpec) -> Pipeline:
        pipeline_id = spec.resolved_id()
        now = datetime.now(UTC)
        document = {
            "_id": pipeline_id,
            **stored_fields(spec, pipeline_id),
            "state": PipelineState.stopped.value,
            "version": 1,
            "created_at": now,
            "updated_at": now,
        }
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            raise await self._conflict(pipeline_id, document["group"]) from None
        return pipeline_from_document(document)

    async def _conflict(self, pipeline_id: str, group: str) -> Conflict:
        if await self.collection.find_one({"_id": pipeline_id}, {"_id": 1}):
            return Conflict(f"A pipeline with the id {pipeline_id!r} exists already; choose another 'id' or name")
        owner = await self.collection.find_one({"group": group}, {"_id": 1})
        owner_id = owner["_id"] if owner else "another pipeline"
        return Conflict(
            f"The consumer group {group!r} is used by pipeline {owner_id!r}; set a different source.group",
            details={"field": "source.group", "pipeline": owner_id},
        )

    async def get(self, pipeline_id: str) -> Pipeline:
        document = await self.collection.find_one({"_id": pipeline_id})
        if document is None:
            raise NotFound(KIND, pipeline_id)
        return pipeline_from_document(document)

    async def list(self, page: PageQuery) -> dict[str, Any]:
        documents, next_cursor = await find_page(self.collection, {}, limit=page.limit, cursor=page.cursor)
        return {"items": [pipeline_from_document(document) for document in documents], "next_cursor": next_cursor}

    async def replace(self, pipeline_id: str, spec: PipelineSpec) -> Pipeline:
        if spec.id is not None and spec.id != pipeline_id:
            raise InvalidDefinition(
                f"The body's id {spec.id!r} differs from the id in the path {pipeline_id!r}; ids cannot change",
                details=[{"field": "id", "message": "must match the path or be omitted"}],
            )
        fields = stored_fields(spec, pipeline_id)
        try:
            document = await self.collection.find_one_and_update(
                {"_id": pipeline_id},
                {"$set": {**fields, "updated_at": datetime.now(UTC)}, "$inc": {"version": 1}},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            raise await self._conflict("", fields["group"]) from None
        if document is None:
            raise NotFound(KIND, pipeline_id)
        return pipeline_from_document(document)

    async def set_state(self, pipeline_id: str, state: PipelineState) -> Pipeline:
        document = await self.collection.find_one_and_update(
            {"_id": pipeline_id},
            {"$set": {"state": state.value, "updated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )
        if document is None:
            raise NotFound(KIND, pipeline_id)
        return pipeline_from_document(document)

    async def delete(self, pipeline_id: str) -> None:
        result = await self.collection.delete_one({"_id": pipeline_id})
        if result.deleted_count == 0:
            raise NotFound(KIND, pipeline_id)
        await self.db[REPLAYS_COLLECTION].delete_one({"_id": pipeline_id})
        await self.db[WORKER_STATUS_COLLECTION].delete_many({"pipeline_id": pipeline_id})
