"""``sql``: write records as rows of an existing table through SQLAlchemy, batched, upserting by key.

The table's columns are read once; a message's fields fill the columns of
the same name (others are ignored, objects and lists go to JSON columns or as
JSON text). A column the message does not mention is left as it is by an
update (and is NULL or its default on insert). With ``key`` (the primary-key or unique columns) rows are upserts
where the dialect has them (PostgreSQL and SQLite ``ON CONFLICT DO UPDATE``,
MySQL ``ON DUPLICATE KEY UPDATE``), and an update-then-insert otherwise, so a
redelivered batch leaves the table as it was. A batch is one transaction; if
the database refuses it for a row's sake (a constraint, a bad value), the
rows are retried one by one and only the refused ones are dead-lettered.
"""

from __future__ import annotations

import json
from typing import Any, Literal

import sqlalchemy as sa
from pydantic import Field, model_validator
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from stream_pipeline.records import DeadLetter, Record
from stream_pipeline.sinks.base import Sink, SinkConfig


class SqlSinkConfig(SinkConfig):
    type: Literal["sql"]
    url: str = Field(min_length=1, description="SQLAlchemy URL, e.g. postgresql+psycopg://user:pw@host/db")
    table: str = Field(min_length=1, max_length=120)
    db_schema: str | None = Field(None, alias="schema", description="the table's schema, if not the default")
    key: list[str] = Field(default_factory=list, description="columns identifying a row (for upserts)")

    model_config = {**SinkConfig.model_config, "populate_by_name": True}

    @model_validator(mode="after")
    def _url_parses(self) -> SqlSinkConfig:
        try:
            sa.engine.make_url(self.url)
        except (sa.exc.ArgumentError, ValueError) as exc:
            raise ValueError(f"url is not a SQLAlchemy URL: {exc}") from None
        return self


class SqlSink(Sink):
    type = "sql"
    config_model = SqlSinkConfig

    def __init__(self, config: SqlSinkConfig, *args: Any) -> None:
        super().__init__(config, *args)
        self.engine: sa.Engine | None = None
        self.table: sa.Table | None = None

    def open(self) -> None:
        if self.engine is None:
            self.engine = sa.create_engine(self.config.url, pool_pre_ping=True, pool_size=2)
        if self.table is None:
            self.table = sa.Table(
                self.config.table, sa.MetaData(), schema=self.config.db_schema, autoload_with=self.engine
            )
            unknown = [column for column in self.config.key if column not in self.table.c]
            if unknown:
                raise ValueError(f"key column(s) {unknown} are not columns of table {self.config.table!r}")

    def row(self, record: Record) -> dict[str, Any]:
        assert self.table is not None
        if type(record.value) is not dict:
            raise TypeError("the sql sink needs JSON object messages")
        row = {}
        for name, column in self.table.c.items():
            if name in record.value:
                value = record.value[name]
                if isinstance(value, dict | list) and not isinstance(column.type, sa.JSON):
                    value = json.dumps(value, separators=(",", ":"))
                row[name] = value
        missing = [column for column in self.config.key if row.get(column) is None]
        if missing:
            raise ValueError(f"key column(s) {missing} missing in the message")
        return row

    def statement(self, columns: list[str]) -> Any:
        assert self.table is not None and self.engine is not None
        key = self.config.key
        updates = [column for column in columns if column not in key]
        dialect = self.engine.dialect.name
        if key and dialect in ("postgresql", "sqlite"):
            module = sa.dialects.postgresql if dialect == "postgresql" else sa.dialects.sqlite
            insert = module.insert(self.table)
            if not updates:
                return insert.on_conflict_do_nothing(index_elements=key)
            return insert.on_conflict_do_update(index_elements=key, set_={c: insert.excluded[c] for c in updates})
        if key and dialect in ("mysql", "mariadb"):
            insert = sa.dialects.mysql.insert(self.table)
            return insert.on_duplicate_key_update({c: insert.inserted[c] for c in updates or key})
        return sa.insert(self.table)

    def write_rows(self, connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
        """Write in order: one statement per run of rows with the same columns."""
        run: list[dict[str, Any]] = []
        for row in rows:
            if run and row.keys() != run[0].keys():
                self.write_run(connection, run)
                run = []
            run.append(row)
        if run:
            self.write_run(connection, run)

    def write_run(self, connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
        assert self.table is not None and self.engine is not None
        columns = list(rows[0])
        key = self.config.key
        if key:
            # One statement may not touch a row twice (PostgreSQL refuses it): the last version of a key wins.
            latest = {tuple(row[column] for column in key): row for row in rows}
            rows = list(latest.values())
        if key and self.engine.dialect.name not in ("postgresql", "sqlite", "mysql", "mariadb"):
            for row in rows:
                condition = sa.and_(*(self.table.c[column] == row[column] for column in key))
                updated = connection.execute(sa.update(self.table).where(condition).values(**row))
                if updated.rowcount == 0:
                    connection.execute(sa.insert(self.table).values(**row))
            return
        connection.execute(self.statement(columns), rows)

    def write(self, records: list[Record]) -> list[DeadLetter]:
        self.open()
        assert self.engine is not None
        refused: list[DeadLetter] = []
        rows, written = [], []
        for record in records:
            try:
                rows.append(self.row(record))
                written.append(record)
            except (TypeError, ValueError) as exc:
                refused.append(DeadLetter.from_exception(record, self.label, exc))
        if not rows:
            return refused
        try:
            with self.engine.begin() as connection:
                self.write_rows(connection, rows)
            return refused
        except OperationalError:
            raise  # connection lost, database down: try the whole batch again later
        except (DBAPIError, SQLAlchemyError):
            pass  # one or more rows are refused: find them
        for record, row in zip(written, rows, strict=True):
            try:
                with self.engine.begin() as connection:
                    self.write_rows(connection, [row])
            except OperationalError:
                raise
            except (DBAPIError, SQLAlchemyError) as exc:
                message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
                refused.append(self.refuse(record, type(getattr(exc, "orig", None) or exc).__name__, message))
        return refused

    def close(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.engine = None
        self.table = None
