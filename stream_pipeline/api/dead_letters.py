"""``/api/v1/pipelines/{id}/dead-letters``: browse a pipeline's dead letters and replay them."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.scopes import STREAMS_READ, STREAMS_WRITE
from common.web import ApiHandler, endpoint


class DeadLetterQuery(BaseModel):
    limit: int = Field(50, ge=1, le=500, description="at most this many, newest first")
    partition: int | None = Field(None, ge=0, description="only this partition of the dead-letter topic")
    before: int | None = Field(None, ge=0, description="only offsets below this one (page backwards)")


class DeadLetterPage(BaseModel):
    topic: str
    items: list[dict[str, Any]]


class DeadLetterRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    partition: int = Field(ge=0)
    offset: int = Field(ge=0)


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    offsets: list[DeadLetterRef] | None = Field(
        None, max_length=1000, description="these dead letters; default: every one not replayed yet"
    )
    limit: int = Field(10_000, ge=1, le=100_000, description="at most this many per partition in one call")


class ReplayResult(BaseModel):
    replayed: int
    topic: str = Field(description="the replay topic the pipeline's workers consume")
    remaining: int | None = Field(description="dead letters still not replayed (call again), when known")


class DeadLettersHandler(ApiHandler):
    @endpoint(
        scopes=[STREAMS_READ],
        summary="Browse dead letters: error, stage, original bytes, topic, partition and offset",
        query=DeadLetterQuery,
        response=DeadLetterPage,
    )
    async def get(self, pipeline_id: str, *, query: DeadLetterQuery) -> dict[str, Any]:
        pipeline = await self.application.pipelines.get(pipeline_id)
        items = await self.application.dead_letters.browse(
            pipeline.id, pipeline.dead_letter_topic, limit=query.limit, partition=query.partition, before=query.before
        )
        return {"topic": pipeline.dead_letter_topic, "items": items}


class ReplayHandler(ApiHandler):
    @endpoint(
        scopes=[STREAMS_WRITE],
        summary="Send dead letters through the pipeline again (after fixing it)",
        body=ReplayRequest,
        response=ReplayResult,
        audit="pipeline.replay",
    )
    async def post(self, pipeline_id: str, *, body: ReplayRequest) -> dict[str, Any]:
        pipeline = await self.application.pipelines.get(pipeline_id)
        refs = [(ref.partition, ref.offset) for ref in body.offsets] if body.offsets is not None else None
        return await self.application.dead_letters.replay(
            pipeline.id, pipeline.dead_letter_topic, refs=refs, limit=body.limit
        )
