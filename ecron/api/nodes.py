"""``GET /api/v1/nodes``: the ecron nodes that share the schedule, with their heartbeats."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from common.scopes import CRON_READ
from common.web import ApiHandler, endpoint
from ecron.models import NodeList
from ecron.nodes import node_view


class NodesHandler(ApiHandler):
    @endpoint(
        scopes=[CRON_READ],
        summary="ecron nodes: heartbeat, lease and executions held",
        description="A node whose lease has expired is listed with alive=false until another node takes it over.",
        response=NodeList,
    )
    async def get(self) -> dict[str, Any]:
        now = datetime.now(UTC)
        documents = await self.application.nodes.all()
        return {"items": sorted((node_view(d, now) for d in documents), key=lambda n: n["started_at"])}
