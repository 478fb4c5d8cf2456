"""How values cross node boundaries: tables to and from coderunner's JSON, rows to drivers, files,
Kafka messages, HTTP bodies, SQL placeholders, report specs; and the secret handling of connections."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from cryptography.fernet import Fernet
from pydantic import ValidationError
from sqlalchemy import text

from common.settings import Settings
from flow_automation.connections import (
    ConnectionCreate,
    SecretKeyError,
    decrypt,
    encrypt,
    local_key,
    mask_url,
    redact,
    secret_box,
    with_stored_password,
)
from flow_automation.node_types import NodeError, registry
from flow_automation.node_types._files import file_input
from flow_automation.node_types._records import documents_input, table_records
from flow_automation.node_types.document_extract import document_table, document_text
from flow_automation.node_types.document_ocr import words_table
from flow_automation.node_types.document_report import DocumentReportConfig, report_spec
from flow_automation.node_types.http_request import HttpRequestConfig, request_body, safe_url
from flow_automation.node_types.kafka_consume import messages_table
from flow_automation.node_types.kafka_produce import keyed_messages
from flow_automation.node_types.python import decode_result, encode_inputs
from flow_automation.node_types.sql_query import bound_parameters
from flow_automation.node_types.sql_write import sql_type

# -- tables to and from coderunner ------------------------------------------------------------------


def test_a_table_round_trips_through_the_sandbox_encoding() -> None:
    frame = pd.DataFrame(
        {
            "id": [1, 2],
            "amount": [12.5, None],
            "country": ["KR", None],
            "at": pd.to_datetime(["2024-01-02T03:04:05", "2024-02-03T00:00:00"]),
            "ok": [True, False],
        }
    )
    encoded = encode_inputs({"orders": frame, "blob": b"\x00\x01", "n": np.int64(3)})
    assert encoded["orders"]["schema"]["fields"][1]["name"] == "id"  # pandas adds the index first
    assert encoded["blob"] == base64.b64encode(b"\x00\x01").decode() and encoded["n"] == 3
    decoded = decode_result({"nested": [encoded["orders"]], "scalar": 1})
    back = decoded["nested"][0]
    assert isinstance(back, pd.DataFrame) and decoded["scalar"] == 1
    assert back["id"].tolist() == [1, 2] and back["country"][0] == "KR" and pd.isna(back["country"][1])
    assert back["amount"][0] == 12.5 and pd.isna(back["amount"][1])
    assert back["at"][0] == pd.Timestamp("2024-01-02T03:04:05") and back["ok"].tolist() == [True, False]


def test_an_input_that_cannot_travel_as_json_is_named() -> None:
    with pytest.raises(NodeError, match="input 'thing' cannot be sent"):
        encode_inputs({"thing": object()})


# -- rows for drivers ---------------------------------------------------------------------------------


def test_table_records_are_plain_python_with_nulls_as_none() -> None:
    frame = pd.DataFrame(
        {
            "i": pd.array([1, None], dtype="Int64"),
            "f": [1.5, np.nan],
            "t": pd.to_datetime(["2024-01-01", None]),
            "s": ["a", None],
        }
    )
    records = table_records(frame)
    assert records[0] == {"i": 1, "f": 1.5, "t": dt.datetime(2024, 1, 1), "s": "a"}
    assert type(records[0]["i"]) is int and type(records[0]["t"]) is dt.datetime
    assert records[1] == {"i": None, "f": None, "t": None, "s": None}


def test_documents_input_takes_tables_lists_and_objects_and_names_bad_items() -> None:
    assert documents_input({"d": {"a": 1}}, "d") == [{"a": 1}]
    assert documents_input({"d": pd.DataFrame({"a": [1, 2]})}, "d") == [{"a": 1}, {"a": 2}]
    with pytest.raises(NodeError, match="item 1 is a int"):
        documents_input({"d": [{"a": 1}, 2]}, "d")
    with pytest.raises(NodeError, match="input 'd' is missing"):
        documents_input({}, "d")


# -- files ----------------------------------------------------------------------------------------------


def test_a_file_arrives_as_bytes_base64_or_an_upload_object() -> None:
    content = b"%PDF-1.4 ..."
    encoded = base64.b64encode(content).decode()
    assert file_input({"file": content}) == (content, None)
    assert file_input({"file": encoded}) == (content, None)
    assert file_input({"file": {"filename": "a.pdf", "content_base64": encoded}}) == (content, "a.pdf")
    with pytest.raises(NodeError, match="not valid base64"):
        file_input({"file": "not base64!"})
    with pytest.raises(NodeError, match="empty file"):
        file_input({"file": b""})
    with pytest.raises(NodeError, match="must be a file"):
        file_input({"file": 3})


# -- kafka ------------------------------------------------------------------------------------------------


def test_kafka_messages_from_rows_keyed_by_a_column() -> None:
    frame = pd.DataFrame({"id": [7, 8], "at": pd.to_datetime(["2024-01-01", "2024-01-02"])})
    messages = keyed_messages({"messages": frame}, "id")
    assert messages == [("7", {"id": 7, "at": "2024-01-01T00:00:00"}), ("8", {"id": 8, "at": "2024-01-02T00:00:00"})]
    assert keyed_messages({"messages": {"a": 1}}, None) == [(None, {"a": 1})]
    with pytest.raises(NodeError, match="key column 'user'"):
        keyed_messages({"messages": frame}, "user")
    with pytest.raises(NodeError, match="message 1 lacks the key field 'id'"):
        keyed_messages({"messages": [{"id": 1}, {"other": 2}]}, "id")


def test_consumed_messages_become_rows() -> None:
    table = messages_table([{"a": 1}, {"a": 2, "b": "x"}, "plain"])
    assert list(table.columns) == ["a", "b", "value"]
    assert table["value"].tolist()[2] == "plain" and table["a"].tolist()[:2] == [1, 2]


# -- http ---------------------------------------------------------------------------------------------------


def test_http_bodies_in_each_format() -> None:
    config = HttpRequestConfig(url="http://127.0.0.1:1/x")
    assert request_body(config, {}) == {}
    assert request_body(config, {"body": pd.DataFrame({"a": [1]})}) == {"json": [{"a": 1}]}
    assert request_body(config, {"body": {"at": dt.date(2024, 1, 2)}}) == {"json": {"at": "2024-01-02"}}
    form = HttpRequestConfig(url="http://127.0.0.1:1/x", body_format="form")
    assert request_body(form, {"body": {"a": 1, "b": None}}) == {"data": {"a": "1", "b": ""}}
    with pytest.raises(NodeError, match="JSON object to send as a form"):
        request_body(form, {"body": [1]})
    assert safe_url("https://user:pw@example.test/p?q=1") == "https://example.test/p?q=1"


# -- sql -------------------------------------------------------------------------------------------------------


def test_sql_placeholders_take_config_then_input_values_and_missing_ones_are_named() -> None:
    statement = text("SELECT * FROM t WHERE a = :a AND b > :b AND c = '10:30'")
    assert bound_parameters(statement, {"a": 1, "b": 2, "unused": 3}, {"b": 5}) == {"a": 1, "b": 5}
    with pytest.raises(NodeError, match=":b have no value"):
        bound_parameters(statement, {"a": 1}, None)
    with pytest.raises(NodeError, match="input 'parameters' must be a JSON object"):
        bound_parameters(statement, {}, [1])


def test_sql_column_types_follow_the_frame() -> None:
    frame = pd.DataFrame(
        {
            "i": [1],
            "f": [1.5],
            "b": [True],
            "t": pd.to_datetime(["2024-01-01"], utc=True),
            "d": [dt.date(2024, 1, 1)],
            "n": [decimal.Decimal("1.10")],
            "j": [{"a": 1}],
            "s": ["x"],
        }
    )
    names = {column: type(sql_type(frame[column])).__name__ for column in frame.columns}
    assert names == {
        "i": "BigInteger",
        "f": "Float",
        "b": "Boolean",
        "t": "DateTime",
        "d": "Date",
        "n": "Numeric",
        "j": "JSON",
        "s": "Text",
    }
    assert sql_type(frame["t"]).timezone is True


def test_sql_write_config_upsert_needs_a_key() -> None:
    model = registry()["sql.write"].config_model
    with pytest.raises(ValidationError, match="needs the key columns"):
        model.model_validate({"connection": "db", "table": "t", "mode": "upsert"})
    assert model.model_validate({"connection": "db", "table": "t", "schema": "s"}).db_schema == "s"


# -- documents ---------------------------------------------------------------------------------------------------


def test_report_blocks_are_filled_from_table_inputs() -> None:
    config = DocumentReportConfig(
        title="Q1",
        blocks=[{"type": "heading", "text": "Sales"}, {"type": "table", "input": "sales", "title": "By region"}],
    )
    sales = pd.DataFrame({"region": ["N", "S"], "revenue": [1.5, np.nan], "day": [dt.date(2024, 1, 1), None]})
    spec = report_spec(config, {"sales": sales})
    assert spec["title"] == "Q1" and spec["blocks"][0] == {"type": "heading", "text": "Sales"}
    assert spec["blocks"][1] == {
        "type": "table",
        "columns": ["region", "revenue", "day"],
        "rows": [["N", 1.5, "2024-01-01"], ["S", None, None]],
        "title": "By region",
    }
    every_input = report_spec(DocumentReportConfig(), {"a": [{"x": 1}]})
    assert every_input["blocks"] == [{"type": "table", "columns": ["x"], "rows": [[1]], "title": "a"}]
    with pytest.raises(NodeError, match="input 'missing' is not connected"):
        report_spec(DocumentReportConfig(blocks=[{"type": "table", "input": "missing"}]), {})
    with pytest.raises(ValidationError):
        DocumentReportConfig(blocks=[{"type": "video"}])


def test_extracted_documents_give_text_and_a_table() -> None:
    xlsx = {
        "type": "xlsx",
        "sheets": [
            {"name": "Data", "header": ["a", "b"], "rows": [{"a": 1, "b": "x"}]},
            {"name": "Raw", "header": None, "rows": [[1, 2]]},
        ],
    }
    assert document_table(xlsx, None, 0).to_dict("records") == [{"a": 1, "b": "x"}]
    assert document_table(xlsx, "Raw", 0).values.tolist() == [[1, 2]]
    with pytest.raises(NodeError, match="no sheet 'Nope'"):
        document_table(xlsx, "Nope", 0)
    assert document_text(xlsx) == "1\tx\n1\t2"
    docx = {"type": "docx", "paragraphs": [{"text": "Hello"}], "tables": [{"rows": [["h1", ""], ["1", "2"]]}]}
    assert list(document_table(docx, None, 0).columns) == ["h1", "column_2"]
    with pytest.raises(NodeError, match="has 1 table"):
        document_table(docx, None, 3)
    assert words_table(
        [{"text": "hi", "confidence": 91.0, "page": 1, "box": {"left": 1, "top": 2, "width": 3, "height": 4}}]
    ).iloc[0].to_dict() == {"text": "hi", "confidence": 91.0, "page": 1, "left": 1, "top": 2, "width": 3, "height": 4}


# -- connection secrets ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("postgresql+psycopg://dataflow:s3cr%40t@db:5432/x", "postgresql+psycopg://dataflow:***@db:5432/x"),
        (
            "mongodb://u:p@w:ss@h1:27017,h2:27017/db?authSource=admin",
            "mongodb://u:***@h1:27017,h2:27017/db?authSource=admin",
        ),
        ("sqlite:////tmp/a.db", "sqlite:////tmp/a.db"),
        ("mssql+pyodbc://h/db?password=hunter2&driver=x", "mssql+pyodbc://h/db?password=***&driver=x"),
    ],
)
def test_urls_are_shown_with_their_secrets_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked


def test_redact_removes_passwords_also_when_decoded() -> None:
    url = "postgresql+psycopg://dataflow:s3cr%40t@db/x"
    message = f"could not connect with {url}: password s3cr@t rejected (s3cr%40t)"
    cleaned = redact(message, [url])
    assert "s3cr" not in cleaned and "dataflow:***@db" in cleaned


def test_a_masked_password_sent_back_keeps_the_stored_one() -> None:
    stored = "postgresql+psycopg://dataflow:secret@db/x"
    assert (
        with_stored_password("postgresql+psycopg://dataflow:***@db2/x", stored)
        == "postgresql+psycopg://dataflow:secret@db2/x"
    )
    assert (
        with_stored_password("postgresql+psycopg://dataflow:new@db/x", stored)
        == "postgresql+psycopg://dataflow:new@db/x"
    )


def test_connection_urls_are_checked_for_their_kind_without_echoing_them() -> None:
    with pytest.raises(ValidationError) as caught:
        ConnectionCreate(name="m", kind="mongo", url="postgresql://u:topsecret@h/db")
    assert "mongodb://" in str(caught.value)
    with pytest.raises(ValidationError, match="SQLAlchemy URL"):
        ConnectionCreate(name="s", kind="sql", url="not a url")
    with pytest.raises(ValidationError, match="mongo connections only"):
        ConnectionCreate(name="s", kind="sql", url="sqlite:///a.db", database="x")


def test_the_local_key_file_is_created_once_with_mode_600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secret.key"
    keys: list[str] = []
    threads = [threading.Thread(target=lambda: keys.append(local_key(path))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(keys)) == 1 and Fernet(keys[0].encode())
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["secret.key"]  # no staging files left behind


def test_secrets_decrypt_after_key_rotation_and_fail_clearly_with_another_key(tmp_path: Path) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = encrypt(secret_box(Settings(secret_key=old, state_dir=tmp_path)), "sqlite:///a.db")
    rotated = secret_box(Settings(secret_key=f"{new},{old}", state_dir=tmp_path))
    assert decrypt(rotated, token, "c") == "sqlite:///a.db"
    with pytest.raises(SecretKeyError, match="connection 'c' cannot be decrypted"):
        decrypt(secret_box(Settings(secret_key=new, state_dir=tmp_path)), token, "c")
    with pytest.raises(SecretKeyError, match="not hold a valid Fernet key"):
        secret_box(Settings(secret_key="short", state_dir=tmp_path))


def test_without_a_configured_key_the_key_file_is_used(tmp_path: Path) -> None:
    box = secret_box(Settings(state_dir=tmp_path))
    assert (tmp_path / "secret.key").exists()
    token = encrypt(box, "x")
    assert decrypt(secret_box(Settings(state_dir=tmp_path)), token, "c") == "x"
