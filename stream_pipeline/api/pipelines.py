"""``/api/v1/pipelines``: stream pipeline definitions."""

from __future__ import annotations

from typing import Any

from common.pagination import PageQuery, list_page
from common.scopes import STREAMS_READ
from common.web import ApiHandler, endpoint
from stream_pipeline.constants import PIPELINES_COLLECTION


class PipelinesHandler(ApiHandler):
    @endpoint(scopes=[STREAMS_READ], summary="List stream pipelines, newest first", query=PageQuery)
    async def get(self, *, query: PageQuery) -> dict[str, Any]:
        return await list_page(self.application.db[PIPELINES_COLLECTION], {}, query)
