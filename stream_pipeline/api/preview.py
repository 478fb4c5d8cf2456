"""``POST /api/v1/pipelines/{id}/preview``: the steps run on sample messages, without Kafka."""

from __future__ import annotations

import asyncio
from typing import Any

from common.errors import DependencyUnavailable, InvalidDefinition
from common.sandbox import SandboxViolation
from common.scopes import STREAMS_READ
from common.web import ApiHandler, endpoint
from stream_pipeline.preview import PREVIEW_TIMEOUT_S, PreviewRequest, PreviewResponse, run_preview


class PreviewHandler(ApiHandler):
    @endpoint(
        scopes=[STREAMS_READ],
        summary="Run the pipeline's steps (or unsaved ones) on sample messages",
        description="Failures of single samples are listed in dead_letters; nothing is written to Kafka or sinks.",
        body=PreviewRequest,
        response=PreviewResponse,
        audited=False,
    )
    async def post(self, pipeline_id: str, *, body: PreviewRequest) -> dict[str, Any]:
        pipeline = await self.application.pipelines.get(pipeline_id)
        steps = body.steps if body.steps is not None else pipeline.steps
        work = asyncio.to_thread(run_preview, self.application.config, pipeline.id, pipeline.source.format, steps, body)
        try:
            return await asyncio.wait_for(work, PREVIEW_TIMEOUT_S)
        except TimeoutError:
            raise DependencyUnavailable(
                f"The preview did not finish within {PREVIEW_TIMEOUT_S:.0f}s; "
                "check enrich steps' MongoDB and python steps that loop"
            ) from None
        except (ValueError, SandboxViolation) as exc:
            # A python step whose top-level code raises, or a step that cannot be built.
            raise InvalidDefinition(
                f"The steps could not be prepared: {type(exc).__name__}: {exc}",
                details=[{"field": "steps", "message": str(exc)[:1000]}],
            ) from None
