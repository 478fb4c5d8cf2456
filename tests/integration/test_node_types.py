"""Node types doing real work: each ``run`` called with a real ExecutorServices against the real servers.

SQL on PostgreSQL and on a SQLite file, MongoDB on FerretDB, Kafka on the
local broker, ``python`` and ``document.*`` through the coderunner the
``platform`` fixture started (with the executor's own service token), and
``http.request`` against an HTTP server run by the test. Connections are
created through the connections API, so the executor side reads what the
API side encrypted.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pymongo import MongoClient
from sqlalchemy import create_engine, text

from common.kafka import TopicSpec, ensure_topics
from common.settings import Settings
from flow_automation.node_services import ExecutorServices
from flow_automation.node_types import NodeCanceled, NodeContext, NodeError, registry
from flow_automation.node_types.python import ProgramError
from tests.document_samples import encoded, text_image
from tests.integration.fixtures.mongo import MONGO_URL
from tests.integration.fixtures.platform import Platform

pytestmark = pytest.mark.integration

POSTGRES_URL = "postgresql+psycopg://dataflow:dataflow@127.0.0.1:5432/dataflow_test"


@pytest.fixture(scope="module")
def settings(platform: Platform) -> Settings:
    """The settings an executor of the running platform has (same database, coderunner, key file)."""
    env = {
        key.removeprefix("DATAFLOW_").lower(): value
        for key, value in platform.env.items()
        if key.startswith("DATAFLOW_")
    }
    return Settings(**env)


@pytest.fixture(scope="module")
def services(settings: Settings) -> Iterator[ExecutorServices]:
    with ExecutorServices(settings) as lent:
        yield lent


def create_connection(platform: Platform, kind: str, url: str, **extra: Any) -> str:
    with platform.client("flow_automation") as client:
        response = client.post(
            "/api/v1/connections",
            json={
                "id": f"test-{uuid.uuid4().hex[:10]}",
                "name": f"{kind} for a test",
                "kind": kind,
                "url": url,
                **extra,
            },
        )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def run_node(type_id: str, config: dict[str, Any], services: ExecutorServices | None, **inputs: Any) -> dict[str, Any]:
    node_type = registry()[type_id]
    context = NodeContext(
        run_id="run-test",
        node_id=type_id.replace(".", "_"),
        config=node_type.config_model.model_validate(config),
        services=services,
        timeout_s=60.0,
    )
    return node_type.run(context, inputs)


# -- SQL on PostgreSQL and SQLite ------------------------------------------------------------------


@pytest.fixture(params=["postgresql", "sqlite"])
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return POSTGRES_URL if request.param == "postgresql" else f"sqlite:///{tmp_path / 'warehouse.db'}"


@pytest.fixture
def sql_table(sql_url: str) -> Iterator[str]:
    name = f"orders_{uuid.uuid4().hex[:10]}"
    yield name
    engine = create_engine(sql_url)
    with engine.begin() as db:
        db.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    engine.dispose()


def test_sql_write_then_query_round_trip(
    platform: Platform, services: ExecutorServices, sql_url: str, sql_table: str
) -> None:
    connection = create_connection(platform, "sql", sql_url)
    orders = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "country": ["KR", "DE", None],
            "amount": [120.5, 80.0, None],
            "paid": [True, False, True],
            "at": pd.to_datetime(["2024-01-01T10:00:00Z", "2024-01-02T11:00:00Z", "2024-01-03T12:00:00Z"]),
        }
    )
    written = run_node(
        "sql.write", {"connection": connection, "table": sql_table, "chunk_size": 2}, services, table=orders
    )
    assert written["result"] == {"rows_written": 3, "table": sql_table, "mode": "append"}

    query = {
        "connection": connection,
        "query": f'SELECT id, country, amount, paid FROM "{sql_table}" WHERE amount > :minimum ORDER BY id',
        "parameters": {"minimum": 1000},
    }
    table = run_node("sql.query", query, services, parameters={"minimum": 50})["table"]
    assert table["id"].tolist() == [1, 2]
    assert table["country"].tolist() == ["KR", "DE"]
    assert table["amount"].tolist() == [120.5, 80.0]
    assert [bool(value) for value in table["paid"]] == [True, False]

    everything = run_node("sql.query", {"connection": connection, "query": f'SELECT * FROM "{sql_table}"'}, services)[
        "table"
    ]
    assert len(everything) == 3 and everything["country"].isna().tolist() == [False, False, True]
    assert pd.Timestamp(everything["at"][0]).tz_localize(None) == pd.Timestamp("2024-01-01T10:00:00")


def test_sql_write_replace_and_upsert(
    platform: Platform, services: ExecutorServices, sql_url: str, sql_table: str
) -> None:
    connection = create_connection(platform, "sql", sql_url)
    base = {"connection": connection, "table": sql_table}
    first = pd.DataFrame({"id": [1, 2], "name": ["a", "b"]})
    run_node("sql.write", {**base, "mode": "upsert", "key": ["id"]}, services, table=first)
    changed = pd.DataFrame({"id": [2, 3], "name": ["B", "c"]})
    result = run_node("sql.write", {**base, "mode": "upsert", "key": ["id"]}, services, table=changed)["result"]
    assert result["rows_written"] == 2
    query = {"connection": connection, "query": f'SELECT id, name FROM "{sql_table}" ORDER BY id'}
    assert run_node("sql.query", query, services)["table"].values.tolist() == [[1, "a"], [2, "B"], [3, "c"]]

    replacement = pd.DataFrame({"id": [9], "name": ["z"], "extra": [1.5]})
    run_node("sql.write", {**base, "mode": "replace"}, services, table=replacement)
    assert run_node("sql.query", {**query, "query": f'SELECT * FROM "{sql_table}"'}, services)[
        "table"
    ].values.tolist() == [[9, "z", 1.5]]


def test_sql_errors_name_the_column_or_placeholder(
    platform: Platform, services: ExecutorServices, sql_url: str, sql_table: str
) -> None:
    connection = create_connection(platform, "sql", sql_url)
    run_node("sql.write", {"connection": connection, "table": sql_table}, services, table=pd.DataFrame({"id": [1]}))
    with pytest.raises(NodeError, match=r"column\(s\) \['colour'\] of input 'table' are not in SQL table"):
        run_node(
            "sql.write",
            {"connection": connection, "table": sql_table},
            services,
            table=pd.DataFrame({"colour": ["red"]}),
        )
    with pytest.raises(NodeError, match=":wanted have no value"):
        run_node("sql.query", {"connection": connection, "query": "SELECT :wanted AS x"}, services)
    with pytest.raises(NodeError, match=r"the query on connection .* failed"):
        run_node("sql.query", {"connection": connection, "query": "SELECT * FROM no_such_table_here"}, services)
    with pytest.raises(NodeError, match="does not exist and field 'create_table' is off"):
        run_node(
            "sql.write",
            {"connection": connection, "table": f"{sql_table}_x", "create_table": False},
            services,
            table=pd.DataFrame({"id": [1]}),
        )


def test_sql_values_are_bound_not_pasted(platform: Platform, services: ExecutorServices) -> None:
    connection = create_connection(platform, "sql", POSTGRES_URL)
    hostile = "x'; DROP TABLE pg_class; --"
    table = run_node(
        "sql.query",
        {"connection": connection, "query": "SELECT :value AS echoed"},
        services,
        parameters={"value": hostile},
    )
    assert table["table"]["echoed"].tolist() == [hostile]


def test_a_wrong_password_fails_the_node_without_leaking_it(platform: Platform, services: ExecutorServices) -> None:
    connection = create_connection(
        platform, "sql", "postgresql+psycopg://dataflow:Wr0ngPassw0rd@127.0.0.1:5432/dataflow_test"
    )
    with pytest.raises(NodeError) as caught:
        run_node("sql.query", {"connection": connection, "query": "SELECT 1"}, services)
    assert "password authentication failed" in str(caught.value)
    assert "Wr0ngPassw0rd" not in str(caught.value)


def test_connection_lookups_fail_as_node_errors(platform: Platform, services: ExecutorServices) -> None:
    with pytest.raises(NodeError, match="connection 'nothing-here' does not exist"):
        run_node("sql.query", {"connection": "nothing-here", "query": "SELECT 1"}, services)
    mongo = create_connection(platform, "mongo", f"{MONGO_URL}/anything")
    with pytest.raises(NodeError, match="is a mongo connection; field 'connection' needs a sql one"):
        run_node("sql.query", {"connection": mongo, "query": "SELECT 1"}, services)


# -- MongoDB (FerretDB) ----------------------------------------------------------------------------


@pytest.fixture
def mongo_database() -> Iterator[str]:
    name = f"nodes_{uuid.uuid4().hex[:10]}"
    yield name
    with MongoClient(MONGO_URL, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(name)


def test_mongo_write_upsert_and_find(platform: Platform, services: ExecutorServices, mongo_database: str) -> None:
    connection = create_connection(platform, "mongo", MONGO_URL, database=mongo_database)
    base = {"connection": connection, "collection": "customers"}
    rows = pd.DataFrame({"code": ["a", "b", "c"], "score": [3, 1, None], "city": ["Seoul", "Berlin", "Seoul"]})
    assert run_node("mongo.write", base, services, documents=rows)["result"] == {"inserted": 3, "updated": 0}
    changes = [{"code": "b", "score": 10, "city": "Berlin"}, {"code": "d", "score": 4, "city": "Oslo"}]
    upserted = run_node("mongo.write", {**base, "mode": "upsert", "key": ["code"]}, services, documents=changes)
    assert upserted["result"] == {"inserted": 1, "updated": 1}

    found = run_node(
        "mongo.find",
        {
            **base,
            "filter": {"score": {"$gte": 2}},
            "projection": {"_id": 0, "code": 1, "score": 1},
            "sort": [{"field": "score", "descending": True}],
        },
        services,
    )["table"]
    assert found.to_dict("records") == [
        {"code": "b", "score": 10},
        {"code": "d", "score": 4},
        {"code": "a", "score": 3},
    ]
    seoul = run_node("mongo.find", base, services, filter={"city": "Seoul"})["table"]
    assert sorted(seoul["code"]) == ["a", "c"] and all(isinstance(value, str) for value in seoul["_id"])

    with pytest.raises(NodeError, match=r"document 0 lacks the key field\(s\) \['code'\]"):
        run_node("mongo.write", {**base, "mode": "upsert", "key": ["code"]}, services, documents=[{"score": 1}])


def test_mongo_connection_without_a_database_is_a_node_error(platform: Platform, services: ExecutorServices) -> None:
    connection = create_connection(platform, "mongo", MONGO_URL)
    with pytest.raises(NodeError, match="names no database"):
        run_node("mongo.find", {"connection": connection, "collection": "x"}, services)


# -- HTTP ------------------------------------------------------------------------------------------


class _Api(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/items"):
            self._send(200, json.dumps([{"id": 1, "q": self.path.partition("?")[2]}, {"id": 2, "q": ""}]).encode())
        elif self.path == "/text":
            self._send(200, b"plain words", "text/plain")
        else:
            self._send(404, b'{"error": "no such thing"}')

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        echoed = {"received": json.loads(body), "token": self.headers.get("X-Token")}
        self._send(201, json.dumps(echoed).encode())

    def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_api() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Api)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_request_formats_and_status(http_api: str) -> None:
    table = run_node(
        "http.request", {"url": f"{http_api}/items", "query": {"a": "1"}, "response_format": "table"}, None
    )
    assert table["response"].to_dict("records") == [{"id": 1, "q": "a=1"}, {"id": 2, "q": ""}]
    assert table["status"]["status_code"] == 200
    posted = run_node(
        "http.request",
        {"method": "POST", "url": f"{http_api}/echo", "headers": {"X-Token": "t1"}, "expected_status": [201]},
        None,
        body=pd.DataFrame({"a": [1, 2]}),
    )
    assert posted["response"] == {"received": [{"a": 1}, {"a": 2}], "token": "t1"}
    text_answer = run_node("http.request", {"url": f"{http_api}/text", "response_format": "text"}, None)
    assert text_answer["response"] == "plain words"
    raw = run_node("http.request", {"url": f"{http_api}/text", "response_format": "bytes"}, None)
    assert raw["response"] == b"plain words"


def test_http_request_unexpected_status_and_bad_json_fail_clearly(http_api: str) -> None:
    with pytest.raises(NodeError, match=r"answered 404, expected a 2xx status .*no such thing"):
        run_node("http.request", {"url": f"{http_api}/missing"}, None)
    with pytest.raises(NodeError, match="the response is not JSON"):
        run_node("http.request", {"url": f"{http_api}/text"}, None)
    with pytest.raises(NodeError, match="failed: ConnectError"):
        run_node("http.request", {"url": "http://user:hunter2@127.0.0.1:9/x", "request_timeout_s": 5}, None)


# -- Kafka -----------------------------------------------------------------------------------------


@pytest.fixture
def topic(settings: Settings) -> str:
    name = f"test.nodes.{uuid.uuid4().hex[:10]}"
    ensure_topics(settings, [TopicSpec(name=name, partitions=2)])
    return name


def test_kafka_produce_then_consume(services: ExecutorServices, topic: str) -> None:
    rows = pd.DataFrame({"id": [1, 2, 3, 4], "event": ["a", "b", "c", "d"]})
    produced = run_node("kafka.produce", {"topic": topic, "key": "id"}, services, messages=rows)["result"]
    assert produced["messages"] == 4 and produced["topic"] == topic

    consume = {"topic": topic, "max_messages": 10, "max_seconds": 15, "include_metadata": True}
    table = run_node("kafka.consume", consume, services)["messages"]
    assert sorted(table["id"]) == [1, 2, 3, 4]
    assert sorted(zip(table["_key"], table["event"], strict=True)) == [("1", "a"), ("2", "b"), ("3", "c"), ("4", "d")]

    bounded = run_node(
        "kafka.consume", {"topic": topic, "max_messages": 2, "max_seconds": 30, "output": "json"}, services
    )
    assert bounded["count"] == 2 and len(bounded["messages"]) == 2


def test_kafka_consume_as_a_group_continues_where_it_stopped(services: ExecutorServices, topic: str) -> None:
    run_node("kafka.produce", {"topic": topic}, services, messages=[{"n": n} for n in range(5)])
    group = {
        "topic": topic,
        "group": f"nodes-{uuid.uuid4().hex[:8]}",
        "max_messages": 3,
        "max_seconds": 30,
        "output": "json",
    }
    first = run_node("kafka.consume", group, services)["messages"]
    second = run_node("kafka.consume", {**group, "max_seconds": 20}, services)["messages"]
    assert len(first) == 3 and len(second) == 2
    assert sorted(item["n"] for item in first + second) == [0, 1, 2, 3, 4]


def test_kafka_missing_topic_and_cancel(services: ExecutorServices, topic: str) -> None:
    with pytest.raises(NodeError, match=r"topic 'test\.nodes\.absent' does not exist"):
        run_node("kafka.consume", {"topic": "test.nodes.absent", "max_seconds": 5}, services)
    with pytest.raises(NodeError, match=r"topic 'test\.nodes\.absent' does not exist"):
        run_node("kafka.produce", {"topic": "test.nodes.absent"}, services, messages=[1])
    node_type = registry()["kafka.consume"]
    cancelled = threading.Event()
    cancelled.set()
    context = NodeContext(
        run_id="r",
        node_id="consume",
        config=node_type.config_model.model_validate({"topic": topic, "max_seconds": 600}),
        services=services,
        cancelled=cancelled,
    )
    with pytest.raises(NodeCanceled):
        node_type.run(context, {})


# -- coderunner: python and documents --------------------------------------------------------------


def test_python_round_trips_tables_through_coderunner(services: ExecutorServices) -> None:
    orders = pd.DataFrame({"country": ["KR", "DE", "KR"], "amount": [10.5, 3.0, 1.5]})
    code = (
        "totals = inputs['orders'].groupby('country', as_index=False)['amount'].sum()\n"
        "print('rows', len(inputs['orders']))\n"
        "result = {'totals': totals, 'factor': inputs['factor'] * 2}\n"
    )
    outputs = run_node("python", {"code": code}, services, orders=orders, factor=21)
    totals = outputs["result"]["totals"]
    assert isinstance(totals, pd.DataFrame)
    assert dict(zip(totals["country"], totals["amount"], strict=True)) == {"DE": 3.0, "KR": 12.0}
    assert outputs["result"]["factor"] == 42 and outputs["stdout"] == "rows 3\n"


def test_python_program_error_carries_type_message_and_line(services: ExecutorServices) -> None:
    with pytest.raises(ProgramError) as caught:
        run_node("python", {"code": "x = 1\ny = inputs['n'] / 0\n"}, services, n=5)
    assert caught.value.error_type == "ZeroDivisionError" and caught.value.line == 2
    assert "ZeroDivisionError at line 2" in str(caught.value)


def test_report_renders_and_extracts_back(services: ExecutorServices) -> None:
    sales = pd.DataFrame({"region": ["North", "South"], "revenue": [120.5, 98.0]})
    report = run_node(
        "document.report",
        {"format": "xlsx", "author": "Finance", "blocks": [{"type": "table", "input": "sales"}]},
        services,
        sales=sales,
    )
    assert report["filename"] == "report.xlsx" and report["file"][:2] == b"PK"
    extracted = run_node("document.extract", {"filename": "sales.xlsx"}, services, file=report["file"])
    assert extracted["document"]["type"] == "xlsx"
    assert "North" in extracted["text"] and "120.5" in extracted["text"]
    table = extracted["table"]
    assert {"region", "revenue"} <= set(table.columns)
    assert table.dropna(subset=["region"])[["region", "revenue"]].values.tolist() == [["North", 120.5], ["South", 98.0]]

    pdf = run_node("document.report", {"format": "pdf", "title": "Sales Q1"}, services, sales=sales)
    assert pdf["file"].startswith(b"%PDF") and pdf["filename"] == "Sales-Q1.pdf"


def test_ocr_reads_a_scan(services: ExecutorServices) -> None:
    png = encoded(text_image(["INVOICE 2024", "TOTAL 1234"]), "PNG")
    result = run_node(
        "document.ocr",
        {"lang": "eng"},
        services,
        file={"filename": "scan.png", "content_base64": base64.b64encode(png).decode()},
    )
    assert "INVOICE" in result["text"].upper()
    assert {"text", "confidence", "page"} <= set(result["words"].columns) and len(result["words"]) >= 2


def test_coderunner_refusals_are_node_errors(services: ExecutorServices) -> None:
    with pytest.raises(NodeError, match="coderunner refused the request"):
        run_node("document.extract", {}, services, file=b"just some text, not a document")


def test_subflows_go_through_the_injected_runner(settings: Settings) -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    def runner(flow_id: str, *, params: Any, version: Any, timeout_s: Any) -> dict[str, Any]:
        calls.append((flow_id, dict(params)))
        return {"load.rows": 3}

    with ExecutorServices(settings, subflow_runner=runner) as lent:
        assert run_node("subflow", {"flow": "child", "output": "load.rows"}, lent, day="x")["result"] == 3
    assert calls == [("child", {"day": "x"})]
    with ExecutorServices(settings) as lent, pytest.raises(NodeError, match="cannot start child runs"):
        run_node("subflow", {"flow": "child"}, lent)


def test_a_cancel_stops_a_python_node_while_coderunner_works(services: ExecutorServices) -> None:
    node_type = registry()["python"]
    cancelled = threading.Event()
    context = NodeContext(
        run_id="r",
        node_id="spin",
        config=node_type.config_model.model_validate({"code": "n = 0\nwhile True:\n    n += 1\n"}),
        services=services,
        timeout_s=5.0,
        cancelled=cancelled,
    )
    timer = threading.Timer(0.5, cancelled.set)
    timer.start()
    try:
        with pytest.raises(NodeCanceled, match="canceled while coderunner worked"):
            node_type.run(context, {})
    finally:
        timer.cancel()
