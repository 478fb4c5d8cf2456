"""``GET /api/v1/executions/{execution_id}``: one execution."""

from __future__ import annotations

from typing import Any

from common.scopes import CRON_READ
from common.web import ApiHandler, endpoint
from ecron.models import Execution


class ExecutionHandler(ApiHandler):
    @endpoint(scopes=[CRON_READ], summary="One execution of a job", response=Execution)
    async def get(self, execution_id: str) -> dict[str, Any]:
        return await self.application.executions.get(execution_id)
