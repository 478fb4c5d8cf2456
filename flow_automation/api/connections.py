"""``/api/v1/connections``: data connections (SQLAlchemy URLs, MongoDB URIs), secrets encrypted at rest.

Reading needs ``flows:read`` (flows name connections, so whoever reads flows
may see which exist); creating, changing, deleting and testing need
``connections:write``. No answer ever carries a connection's secret: URLs
come back with the password masked as ``***``, and a PUT may send that
masked URL back to keep the stored password. The audit trail records ids
and outcomes only, never bodies, so a URL never enters it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import BaseModel, Field

from common.errors import Conflict
from common.pagination import PageQuery
from common.scopes import CONNECTIONS_WRITE, FLOWS_READ
from common.web import ApiHandler, endpoint
from flow_automation.connections import (
    ConnectionCreate,
    ConnectionList,
    ConnectionStore,
    ConnectionTestResult,
    ConnectionUpdate,
    ConnectionView,
    public_view,
    test_connection,
)


def connection_store(handler: ApiHandler) -> ConnectionStore:
    """The application's store, made on first use (the app needs no wiring beyond its routes)."""
    application: Any = handler.application
    store = getattr(application, "connections", None)
    if not isinstance(store, ConnectionStore):
        store = ConnectionStore(application.db, application.config)
        application.connections = store
    return store


class ConnectionsHandler(ApiHandler):
    @endpoint(
        scopes=[FLOWS_READ],
        summary="List data connections (URLs with the password masked), in id order",
        query=PageQuery,
        response=ConnectionList,
    )
    async def get(self, *, query: PageQuery) -> dict[str, Any]:
        return await connection_store(self).list(limit=query.limit, cursor=query.cursor)

    @endpoint(
        scopes=[CONNECTIONS_WRITE],
        summary="Create a data connection; its URL is stored encrypted",
        body=ConnectionCreate,
        response=ConnectionView,
        status=201,
        audit="connection.create",
        errors=(409,),
    )
    async def post(self, *, body: ConnectionCreate) -> dict[str, Any]:
        document = await connection_store(self).create(body)
        self.audit_object_id = document["_id"]
        return public_view(document)


class ConnectionDeleteQuery(BaseModel):
    force: bool = Field(False, description="delete even though flows use it (their runs will fail)")


class ConnectionHandler(ApiHandler):
    @endpoint(scopes=[FLOWS_READ], summary="One data connection, its password masked", response=ConnectionView)
    async def get(self, connection_id: str) -> dict[str, Any]:
        return public_view(await connection_store(self).get(connection_id))

    @endpoint(
        scopes=[CONNECTIONS_WRITE],
        summary="Replace a data connection; a URL whose password is *** keeps the stored password",
        body=ConnectionUpdate,
        response=ConnectionView,
        audit="connection.update",
    )
    async def put(self, connection_id: str, *, body: ConnectionUpdate) -> dict[str, Any]:
        return public_view(await connection_store(self).replace(connection_id, body))

    @endpoint(
        scopes=[CONNECTIONS_WRITE],
        summary="Delete a data connection; refused (409) while flows use it, unless force=true",
        query=ConnectionDeleteQuery,
        status=204,
        audit="connection.delete",
        errors=(404, 409),
    )
    async def delete(self, connection_id: str, *, query: ConnectionDeleteQuery) -> None:
        store = connection_store(self)
        await store.get(connection_id)
        users = await self.application.flows.using_connection(connection_id)
        if users and not query.force:
            raise Conflict(
                f"connection {connection_id!r} is used by {len(users)} flow(s); change them first, "
                "or delete with force=true",
                details={"flows": users},
            )
        await store.delete(connection_id)
        self.set_status(204)
        self.finish()


class ConnectionTestHandler(ApiHandler):
    @endpoint(
        scopes=[CONNECTIONS_WRITE],
        summary="Connect with a stored connection and run the cheapest query",
        description="Answers 200 with ok=false and the server's reason when connecting fails.",
        response=ConnectionTestResult,
        audit="connection.test",
    )
    async def post(self, connection_id: str) -> dict[str, Any]:
        connection = await connection_store(self).resolve(connection_id)
        return await asyncio.to_thread(test_connection, connection)
