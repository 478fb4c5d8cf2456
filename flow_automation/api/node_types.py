"""``/api/v1/node-types``: the node registry, everything the designer needs for its palette and forms."""

from __future__ import annotations

from typing import Any

from common.errors import NotFound
from common.scopes import FLOWS_READ
from common.web import ApiHandler, endpoint
from flow_automation.node_types import get_node_type, registry


class NodeTypesHandler(ApiHandler):
    @endpoint(scopes=[FLOWS_READ], summary="Every node type: id, title, category, ports and config JSON Schema")
    async def get(self) -> dict[str, Any]:
        items = [node_type.describe() for node_type in registry().values()]
        categories = sorted({item["category"] for item in items})
        return {"items": items, "categories": categories}


class NodeTypeHandler(ApiHandler):
    @endpoint(scopes=[FLOWS_READ], summary="One node type", errors=(404,))
    async def get(self, type_id: str) -> dict[str, Any]:
        node_type = get_node_type(type_id)
        if node_type is None:
            raise NotFound("node type", type_id)
        return node_type.describe()
