"""``/api/v1/pipelines``: stream pipeline definitions, their desired state and their status."""

from __future__ import annotations

from typing import Any

from common.pagination import PageQuery
from common.scopes import STREAMS_READ, STREAMS_WRITE
from common.web import ApiHandler, endpoint
from stream_pipeline.models import Pipeline, PipelinePage, PipelineSpec, PipelineState
from stream_pipeline.status import PipelineStatus, pipeline_status


class PipelinesHandler(ApiHandler):
    @endpoint(scopes=[STREAMS_READ], summary="List stream pipelines", query=PageQuery, response=PipelinePage)
    async def get(self, *, query: PageQuery) -> dict[str, Any]:
        return await self.application.pipelines.list(query)

    @endpoint(
        scopes=[STREAMS_WRITE],
        summary="Create a stream pipeline (stopped; start it with POST .../start)",
        body=PipelineSpec,
        response=Pipeline,
        status=201,
        audit="pipeline.create",
        errors=(409,),
    )
    async def post(self, *, body: PipelineSpec) -> Pipeline:
        pipeline = await self.application.pipelines.create(body)
        self.audit_object_id = pipeline.id
        self.set_header("Location", f"/api/v1/pipelines/{pipeline.id}")
        return pipeline


class PipelineHandler(ApiHandler):
    @endpoint(scopes=[STREAMS_READ], summary="A stream pipeline", response=Pipeline)
    async def get(self, pipeline_id: str) -> Pipeline:
        return await self.application.pipelines.get(pipeline_id)

    @endpoint(
        scopes=[STREAMS_WRITE],
        summary="Replace a pipeline's definition; running workers pick it up without a restart",
        body=PipelineSpec,
        response=Pipeline,
        audit="pipeline.update",
        errors=(409,),
    )
    async def put(self, pipeline_id: str, *, body: PipelineSpec) -> Pipeline:
        return await self.application.pipelines.replace(pipeline_id, body)

    @endpoint(
        scopes=[STREAMS_WRITE], summary="Delete a pipeline (its topics stay)", status=204, audit="pipeline.delete"
    )
    async def delete(self, pipeline_id: str) -> None:
        await self.application.pipelines.delete(pipeline_id)
        self.set_status(204)
        self.finish()


class StartHandler(ApiHandler):
    @endpoint(
        scopes=[STREAMS_WRITE], summary="Start a pipeline on the workers", response=Pipeline, audit="pipeline.start"
    )
    async def post(self, pipeline_id: str) -> Pipeline:
        return await self.application.pipelines.set_state(pipeline_id, PipelineState.running)


class StopHandler(ApiHandler):
    @endpoint(
        scopes=[STREAMS_WRITE],
        summary="Stop a pipeline; workers finish their batch and commit",
        response=Pipeline,
        audit="pipeline.stop",
    )
    async def post(self, pipeline_id: str) -> Pipeline:
        return await self.application.pipelines.set_state(pipeline_id, PipelineState.stopped)


class StatusHandler(ApiHandler):
    @endpoint(
        scopes=[STREAMS_READ],
        summary="Per-partition lag, message rates (in, out, dead-lettered per second) and the last error",
        response=PipelineStatus,
    )
    async def get(self, pipeline_id: str) -> PipelineStatus:
        pipeline = await self.application.pipelines.get(pipeline_id)
        return await pipeline_status(self.application.db, self.application.inspector, pipeline)
