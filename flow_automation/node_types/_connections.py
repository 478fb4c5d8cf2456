"""Config fields shared by the node types that use a data connection."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flow_automation.node_types._base import DataConnection, NodeContext, NodeError

CONNECTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"


def connection_field(kind: str) -> Any:
    """The ``connection`` field: the id of a data connection of ``/api/v1/connections``."""
    return Field(
        title="Connection",
        description=f"id of a {kind} data connection (see /api/v1/connections)",
        pattern=CONNECTION_ID_PATTERN,
        json_schema_extra={"x-dataflow-ref": "connections"},
    )


def data_connection(context: NodeContext[Any], connection_id: str, kind: str) -> DataConnection:
    """The connection ``connection_id`` from the executor, checked to be of ``kind`` (``sql`` or ``mongo``)."""
    connection = context.require_services().connection(connection_id)
    if connection.kind != kind:
        raise NodeError(
            f"connection {connection_id!r} is a {connection.kind} connection; field 'connection' needs a {kind} one"
        )
    return connection


def failure(what: str, exc: BaseException, connection: DataConnection) -> NodeError:
    """A :class:`NodeError` for a driver failure: the driver's own words, the connection's secrets redacted."""
    from flow_automation.connections import describe_failure, redact

    return NodeError(redact(f"{what}: {describe_failure(exc)}", [connection.url]))


def mongo_client(connection: DataConnection, *, timeout_ms: int = 10_000) -> Any:
    """A blocking pymongo client for ``connection``, with timeouts so an unreachable server fails the node."""
    from pymongo import MongoClient

    return MongoClient(
        connection.url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        tz_aware=True,
        appname="dataflow-node",
    )


def mongo_database(client: Any, connection: DataConnection) -> Any:
    """The database the URI names, else the connection's ``database``; a :class:`NodeError` when neither does."""
    from pymongo.errors import ConfigurationError

    try:
        return client.get_default_database(default=connection.database)
    except ConfigurationError:
        raise NodeError(
            f"connection {connection.id!r} names no database: add one to its URI (mongodb://host/<db>) "
            "or set its 'database'"
        ) from None
