"""``sql.query``: run a query on a SQL data connection and return the rows as a table.

Values are bound, never pasted into the SQL: ``:name`` placeholders take
``parameters`` from the config, overridden by the JSON input ``parameters``
(often ``params.<name>`` of the flow). A placeholder without a value fails
the node naming it, before the database sees anything. SQLAlchemy runs the
query on the connection's URL (PostgreSQL via psycopg, SQLite, any dialect
whose driver is installed) in one transaction, which commits when the
statement changes data; rows are fetched in chunks, checking for a cancel
between them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import Field

from flow_automation.node_types._base import (
    NodeCanceled,
    NodeConfig,
    NodeContext,
    NodeError,
    NodeType,
    Port,
    PortKind,
)
from flow_automation.node_types._connections import connection_field, data_connection, failure

#: Rows fetched per round trip; a cancel is noticed between two fetches.
FETCH_ROWS = 5000
#: How long connecting may take before the node fails.
CONNECT_TIMEOUT_S = 30.0


class SqlQueryConfig(NodeConfig):
    connection: str = connection_field("SQL")
    query: str = Field(
        min_length=1,
        title="Query",
        description="SQL with :name placeholders for bound values",
        json_schema_extra={"format": "code", "contentMediaType": "application/sql"},
    )
    parameters: dict[str, Any] = Field(
        default_factory=dict, title="Parameters", description="values for the :name placeholders"
    )
    max_rows: int | None = Field(
        None, ge=1, title="Row limit", description="fail when the result has more rows; empty: no limit"
    )


def run(context: NodeContext[SqlQueryConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    from flow_automation.connections import sql_engine

    config = context.config
    statement = text(config.query)
    parameters = bound_parameters(statement, config.parameters, inputs.get("parameters"))
    connection = data_connection(context, config.connection, "sql")
    try:
        engine = sql_engine(connection.url, connect_timeout_s=CONNECT_TIMEOUT_S)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise failure(f"connection {connection.id!r} cannot be used", exc, connection) from None
    try:
        with engine.begin() as db:
            result = db.execute(statement, parameters)
            if not result.returns_rows:
                context.log.info("statement of node %s changed %s row(s)", context.node_id, result.rowcount)
                return {"table": pd.DataFrame()}
            columns = list(result.keys())
            rows = _fetch(context, result, config.max_rows)
    except SQLAlchemyError as exc:
        raise failure(f"the query on connection {connection.id!r} failed", exc, connection) from None
    finally:
        engine.dispose()
    return {"table": pd.DataFrame.from_records(rows, columns=columns)}


def bound_parameters(statement: Any, configured: Mapping[str, Any], given: Any) -> dict[str, Any]:
    """The values for the statement's placeholders; a :class:`NodeError` naming any placeholder left without."""
    if given is not None and not isinstance(given, Mapping):
        raise NodeError(f"input 'parameters' must be a JSON object of placeholder values, got {type(given).__name__}")
    values = {**configured, **(given or {})}
    names = list(statement.compile().params)
    missing = [name for name in names if name not in values]
    if missing:
        raise NodeError(
            f"placeholder(s) {', '.join(':' + name for name in missing)} have no value; "
            "set them in field 'parameters' or in the input 'parameters'"
        )
    return {name: values[name] for name in names}


def _fetch(context: NodeContext[Any], result: Any, max_rows: int | None) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = []
    while True:
        if context.cancelled.is_set():
            raise NodeCanceled(f"node {context.node_id} was canceled while fetching rows")
        chunk = result.fetchmany(FETCH_ROWS)
        if not chunk:
            return rows
        rows.extend(tuple(row) for row in chunk)
        if max_rows is not None and len(rows) > max_rows:
            raise NodeError(f"the query returned more than {max_rows} rows (field 'max_rows'); narrow it or raise it")


NODE_TYPE = NodeType(
    id="sql.query",
    title="SQL query",
    category="SQL",
    description="Run a query on a SQL connection; the rows come out as a table.",
    inputs=(
        Port(
            name="parameters",
            kind=PortKind.JSON,
            description="values for the placeholders, over those in the config",
            required=False,
        ),
    ),
    outputs=(Port(name="table", kind=PortKind.TABLE, description="the result rows"),),
    config_model=SqlQueryConfig,
    run=run,
)
