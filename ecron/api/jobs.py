"""``/api/v1/jobs``: cron jobs."""

from __future__ import annotations

from typing import Any

from common.pagination import PageQuery, list_page
from common.scopes import CRON_READ
from common.web import ApiHandler, endpoint
from ecron.constants import JOBS_COLLECTION


class JobsHandler(ApiHandler):
    @endpoint(scopes=[CRON_READ], summary="List cron jobs, newest first", query=PageQuery)
    async def get(self, *, query: PageQuery) -> dict[str, Any]:
        return await list_page(self.application.db[JOBS_COLLECTION], {}, query)
