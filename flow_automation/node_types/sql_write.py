"""``sql.write``: write a table's rows into a SQL table of a data connection.

Modes: ``append`` inserts the rows; ``replace`` drops the table and creates
it anew from the rows; ``upsert`` inserts rows and updates those whose
``key`` columns match a row already there (``INSERT ... ON CONFLICT`` on
PostgreSQL and SQLite, ``ON DUPLICATE KEY UPDATE`` on MySQL/MariaDB; other
dialects refuse it). A missing table is created from the rows' types (with
the key columns as its primary key in ``upsert`` mode) unless
``create_table`` is off. Rows go in batches of ``chunk_size`` inside one
transaction, so a failure or a cancel leaves the table as it was.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd
from pydantic import Field, field_validator, model_validator

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
from flow_automation.node_types._records import table_records
from flow_automation.node_types._tables import ColumnName, reject_duplicates, require_columns, table_input

UPSERT_DIALECTS = ("postgresql", "sqlite", "mysql", "mariadb")


class SqlWriteConfig(NodeConfig):
    connection: str = connection_field("SQL")
    table: str = Field(min_length=1, max_length=128, title="Table", description="the SQL table to write to")
    db_schema: str | None = Field(
        None,
        alias="schema",
        min_length=1,
        max_length=128,
        title="Schema",
        description="database schema; empty: the default",
    )
    mode: Literal["append", "replace", "upsert"] = Field(
        "append",
        title="Mode",
        description="append rows; replace the table with the rows; upsert: update rows whose key matches, "
        "insert the others",
    )
    key: list[ColumnName] = Field(
        default_factory=list, title="Key columns", description="upsert: the columns that identify a row"
    )
    create_table: bool = Field(True, title="Create the table", description="create it from the rows when missing")
    chunk_size: int = Field(1000, ge=1, le=100_000, title="Rows per batch")

    @field_validator("key")
    @classmethod
    def _keys_are_distinct(cls, key: list[str]) -> list[str]:
        return reject_duplicates(key)

    @model_validator(mode="after")
    def _upsert_needs_a_key(self) -> SqlWriteConfig:
        if self.mode == "upsert" and not self.key:
            raise ValueError("mode 'upsert' needs the key columns that identify a row")
        if self.mode != "upsert" and self.key:
            raise ValueError("key columns apply to mode 'upsert' only")
        return self


def run(context: NodeContext[SqlWriteConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    from sqlalchemy.exc import SQLAlchemyError

    from flow_automation.connections import sql_engine

    frame = table_input(inputs)
    config = context.config
    require_columns(frame, config.key)
    records = table_records(frame)
    connection = data_connection(context, config.connection, "sql")
    try:
        engine = sql_engine(connection.url, connect_timeout_s=30)
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise failure(f"connection {connection.id!r} cannot be used", exc, connection) from None
    try:
        with engine.begin() as db:
            target = target_table(db, config, frame)
            statement = insert_statement(db.dialect.name, target, config, [str(c) for c in frame.columns])
            for start in range(0, len(records), config.chunk_size):
                if context.cancelled.is_set():
                    raise NodeCanceled(f"node {context.node_id} was canceled; nothing was written")
                db.execute(statement, records[start : start + config.chunk_size])
    except SQLAlchemyError as exc:
        raise failure(f"writing to table {config.table!r} failed", exc, connection) from None
    finally:
        engine.dispose()
    return {"result": {"rows_written": len(records), "table": config.table, "mode": config.mode}}


def target_table(db: Any, config: SqlWriteConfig, frame: pd.DataFrame) -> Any:
    """The SQL table to write to: reflected, or (re)created from the frame's columns."""
    from sqlalchemy import MetaData, Table, inspect

    metadata = MetaData()
    exists = inspect(db).has_table(config.table, schema=config.db_schema)
    if exists and config.mode == "replace":
        Table(config.table, metadata, schema=config.db_schema, autoload_with=db).drop(db)
        metadata = MetaData()
        exists = False
    if exists:
        table = Table(config.table, metadata, schema=config.db_schema, autoload_with=db)
        unknown = [str(column) for column in frame.columns if str(column) not in table.columns]
        if unknown:
            raise NodeError(
                f"column(s) {unknown} of input 'table' are not in SQL table {config.table!r}, "
                f"whose columns are {list(table.columns.keys())}; select or rename them first"
            )
        return table
    if not config.create_table:
        raise NodeError(f"SQL table {config.table!r} does not exist and field 'create_table' is off")
    table = Table(config.table, metadata, *table_columns(frame, config.key), schema=config.db_schema)
    table.create(db)
    return table


def table_columns(frame: pd.DataFrame, key: list[str]) -> list[Any]:
    """SQLAlchemy columns for ``frame``'s columns, typed from their dtypes (object columns by their values)."""
    from sqlalchemy import Column

    return [
        Column(str(name), sql_type(frame[name]), primary_key=str(name) in key, nullable=str(name) not in key)
        for name in frame.columns
    ]


def sql_type(series: pd.Series) -> Any:
    from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Float, LargeBinary, Numeric, Text

    if pd.api.types.is_bool_dtype(series):
        return Boolean()
    if pd.api.types.is_integer_dtype(series):
        return BigInteger()
    if pd.api.types.is_float_dtype(series):
        return Float(53)
    if isinstance(series.dtype, pd.DatetimeTZDtype):
        return DateTime(timezone=True)
    if pd.api.types.is_datetime64_any_dtype(series):
        return DateTime()
    sample = next((value for value in series if value is not None and not _is_missing(value)), None)
    kinds: list[tuple[type | tuple[type, ...], Any]] = [
        (dt.datetime, DateTime(timezone=getattr(sample, "tzinfo", None) is not None)),
        (dt.date, Date()),
        (decimal.Decimal, Numeric()),
        (bytes, LargeBinary()),
        ((dict, list), JSON()),
        (bool, Boolean()),
        (int, BigInteger()),
        (float, Float(53)),
    ]
    return next((sql for kind, sql in kinds if isinstance(sample, kind)), Text())


def _is_missing(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def insert_statement(dialect: str, table: Any, config: SqlWriteConfig, columns: list[str]) -> Any:
    """A plain INSERT, or the dialect's upsert on the key columns."""
    if config.mode != "upsert":
        return table.insert()
    updated = [column for column in columns if column not in config.key]
    if dialect in ("postgresql", "sqlite"):
        if dialect == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert
        statement = insert(table)
        index = [table.c[column] for column in config.key]
        if not updated:
            return statement.on_conflict_do_nothing(index_elements=index)
        return statement.on_conflict_do_update(
            index_elements=index, set_={column: statement.excluded[column] for column in updated}
        )
    if dialect in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert as mysql_insert

        statement = mysql_insert(table)
        changes = {column: statement.inserted[column] for column in updated or config.key[:1]}
        return statement.on_duplicate_key_update(changes)
    raise NodeError(f"mode 'upsert' works on {list(UPSERT_DIALECTS)}, not on {dialect}; use append or replace")


NODE_TYPE = NodeType(
    id="sql.write",
    title="SQL write",
    category="SQL",
    description="Write a table's rows into a SQL table: append, replace the table, or upsert by key columns.",
    inputs=(Port(name="table", kind=PortKind.TABLE, description="the rows to write"),),
    outputs=(Port(name="result", kind=PortKind.JSON, description="{rows_written, table, mode}"),),
    config_model=SqlWriteConfig,
    run=run,
)
