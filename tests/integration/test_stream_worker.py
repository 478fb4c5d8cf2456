"""Pipelines running on a real worker process: every step and sink against the real servers.

The shared worker runs every ``it-*`` pipeline; each test uses its own topics,
collections and tables, so tests never see each other's messages.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pymongo import MongoClient

from tests.integration.fixtures.mongo import MONGO_URL
from tests.integration.fixtures.platform import Platform, wait_until
from tests.integration.test_stream_support import (
    WorkerProcess,
    produce,
    read_json,
    read_topic,
    shared_worker,
    start_pipeline,
    stop_pipeline,
    streams,
    unique,
    wait_for_running,
)

pytestmark = pytest.mark.integration

__all__ = ["shared_worker", "streams"]

POSTGRES_URL = "postgresql+psycopg://dataflow:dataflow@127.0.0.1:5432/dataflow_test"


@pytest.fixture(scope="module")
def database(platform: Platform) -> Iterator[Any]:
    with MongoClient(MONGO_URL, serverSelectionTimeoutMS=5000) as client:
        yield client[platform.database]


def test_issue_example_pipeline_with_dead_letters_and_status(
    streams: httpx.Client, shared_worker: WorkerProcess, new_topic: Any
) -> None:
    name = unique()
    source = new_topic(partitions=2)
    pipeline = start_pipeline(
        streams,
        {
            "name": name,
            "source": {"topics": [source], "group": name, "start": "earliest", "format": "json"},
            "steps": [
                {"type": "filter", "expr": "amount > 10 and country == 'KR'"},
                {"type": "map", "set": {"amount_krw": "amount * 1300"}, "drop": ["debug"]},
            ],
            "sink": {"type": "kafka", "topic": f"{name}.clean", "key": "id"},
            "dead_letter_topic": f"{name}.dlq",
        },
    )
    orders = [{"id": n, "amount": n, "country": "KR" if n % 2 else "US", "debug": "x"} for n in range(40)]
    produce(source, orders, keys=[str(n) for n in range(40)])
    produce(source, [b"{not json", b"\xff\xfe"], keys=[b"bad-1", b"bad-2"], raw=True)

    expected = [{"id": n, "amount": n, "country": "KR", "amount_krw": n * 1300} for n in range(40) if n > 10 and n % 2]
    clean = read_topic(f"{name}.clean", len(expected))
    assert sorted((json.loads(message.value) for message in clean), key=lambda order: order["id"]) == expected
    assert {message.key for message in clean} == {str(order["id"]).encode() for order in expected}

    letters = read_json(f"{name}.dlq", 2)
    by_key = {base64.b64decode(letter["source"]["key_base64"]): letter for letter in letters}
    broken = by_key[b"bad-1"]
    assert broken["pipeline"] == name and broken["stage"] == "decode"
    assert broken["error"]["type"] == "JSONDecodeError"
    assert base64.b64decode(broken["value_base64"]) == b"{not json"
    assert broken["source"]["topic"] == source and broken["source"]["offset"] >= 0
    assert broken["source"]["partition"] in (0, 1)
    assert base64.b64decode(by_key[b"bad-2"]["value_base64"]) == b"\xff\xfe"
    assert by_key[b"bad-2"]["value_text"] is None

    def settled() -> dict[str, Any] | None:
        status = streams.get(f"/api/v1/pipelines/{pipeline['id']}/status").json()
        totals = [worker["totals"] for worker in status["workers"]]
        done = status["lag"] == 0 and sum(total["in"] for total in totals) == 42
        return status if done else None

    status = wait_until(settled, timeout=60, interval=0.5, message="lag 0 and 42 messages in")
    assert status["running_version"] == 1
    assert {(row["topic"], row["partition"]) for row in status["partitions"]} >= {(source, 0), (source, 1)}
    assert all(row["worker_id"] == "shared" for row in status["partitions"] if row["topic"] == source)
    worker = status["workers"][0]
    assert worker["totals"]["out"] == len(expected) and worker["totals"]["dead_letters"] == 2

    browsed = streams.get(f"/api/v1/pipelines/{pipeline['id']}/dead-letters").json()
    assert {item["error"]["type"] for item in browsed["items"]} == {"JSONDecodeError", "UnicodeDecodeError"}
    assert all(item["dead_letter"]["replayed"] is False for item in browsed["items"])
    stop_pipeline(streams, pipeline["id"])


def test_schema_failures_and_python_errors_are_dead_lettered_and_replayed_after_a_fix(
    streams: httpx.Client, shared_worker: WorkerProcess, new_topic: Any, database: Any
) -> None:
    name = unique()
    source = new_topic()
    collection = f"{name.replace('-', '_')}_orders"
    schema = {
        "type": "object",
        "required": ["id", "kind"],
        "properties": {"id": {"type": "integer"}, "kind": {"type": "string"}},
    }
    strict_code = (
        "def process(value):\n"
        "    if value['kind'] == 'poison':\n"
        "        raise ValueError('cannot handle poison ' + str(value['id']))\n"
        "    value['handled'] = True\n"
        "    return value\n"
    )
    definition = {
        "name": name,
        "source": {"topics": [source], "format": "text"},
        "steps": [{"type": "validate", "schema": schema}, {"type": "python", "name": "handle", "code": strict_code}],
        "sink": {"type": "mongo", "collection": collection, "key": ["id"]},
    }
    pipeline = start_pipeline(streams, definition)
    produce(
        source,
        [
            b'{"id": 1, "kind": "plain"}',
            b'{"id": 2, "kind": "poison"}',
            b'{"id": "three", "kind": "plain"}',
            b'{"id": 4, "kind"',
            b'{"id": 5, "kind": "plain"}',
        ],
        raw=True,
    )
    dead_letter_topic = pipeline["dead_letter_topic"]
    letters = {letter["source"]["offset"]: letter for letter in read_json(dead_letter_topic, 3)}
    assert sorted(letters) == [1, 2, 3]
    assert letters[1]["stage"] == "steps[1] python 'handle'"
    assert letters[1]["error"] == {"type": "ValueError", "message": "line 3: cannot handle poison 2"}
    assert letters[2]["stage"] == "steps[0] validate" and letters[2]["error"]["type"] == "SchemaMismatch"
    assert "at /id" in letters[2]["error"]["message"]
    assert letters[3]["error"]["type"] == "StepError" and "not valid JSON" in letters[3]["error"]["message"]
    assert base64.b64decode(letters[3]["value_base64"]) == b'{"id": 4, "kind"'
    assert all(letter["source"]["topic"] == source and letter["pipeline_version"] == 1 for letter in letters.values())
    wait_until(lambda: database[collection].count_documents({}) == 2, timeout=60, message="ids 1 and 5 stored")
    assert {doc["_id"] for doc in database[collection].find()} == {1, 5}

    # Fix the python step; the running worker picks the new version up without a restart.
    forgiving = strict_code.replace(
        "raise ValueError('cannot handle poison ' + str(value['id']))", "value['cured'] = True"
    )
    definition["steps"][1]["code"] = forgiving
    replaced = streams.put(f"/api/v1/pipelines/{pipeline['id']}", json=definition)
    assert replaced.status_code == 200 and replaced.json()["version"] == 2
    wait_for_running(streams, pipeline["id"], version=2)

    replay = streams.post(f"/api/v1/pipelines/{pipeline['id']}/dead-letters/replay", json={})
    assert replay.status_code == 200, replay.text
    assert replay.json()["replayed"] == 3 and replay.json()["remaining"] == 0
    wait_until(
        lambda: database[collection].find_one({"_id": 2}), timeout=60, message="the replayed poison message stored"
    )
    assert database[collection].find_one({"_id": 2}) == {
        "_id": 2,
        "id": 2,
        "kind": "poison",
        "cured": True,
        "handled": True,
    }
    # The two that are still wrong fail again, dead-lettered with their original coordinates.
    again = read_json(dead_letter_topic, 5)[3:]
    assert sorted(letter["source"]["offset"] for letter in again) == [2, 3]
    assert all(letter["source"]["topic"] == source and letter["pipeline_version"] == 2 for letter in again)
    browsed = streams.get(f"/api/v1/pipelines/{pipeline['id']}/dead-letters", params={"limit": 10}).json()["items"]
    assert [item["dead_letter"]["replayed"] for item in browsed] == [False, False, True, True, True]
    nothing_left = streams.post(f"/api/v1/pipelines/{pipeline['id']}/dead-letters/replay", json={}).json()
    assert nothing_left["replayed"] == 2 and nothing_left["remaining"] == 0  # the two new ones
    missing = streams.post(
        f"/api/v1/pipelines/{pipeline['id']}/dead-letters/replay", json={"offsets": [{"partition": 0, "offset": 999}]}
    )
    assert missing.status_code == 404
    stop_pipeline(streams, pipeline["id"])


def test_mongo_sink_with_enrich_and_dedupe_is_idempotent(
    streams: httpx.Client, shared_worker: WorkerProcess, new_topic: Any, database: Any
) -> None:
    name = unique()
    source = new_topic(partitions=2)
    customers, orders = f"{name.replace('-', '_')}_customers", f"{name.replace('-', '_')}_orders"
    database[customers].insert_many(
        [{"_id": "c1", "name": "Kim", "tier": "gold"}, {"_id": "c2", "name": "Lee", "tier": "silver"}]
    )
    pipeline = start_pipeline(
        streams,
        {
            "name": name,
            "source": {"topics": [source]},
            "steps": [
                {"type": "dedupe", "key": "order_id", "window_s": 600},
                {
                    "type": "enrich",
                    "collection": customers,
                    "key": "customer_id",
                    "into": "customer",
                    "fields": ["name", "tier"],
                    "on_missing": "dead_letter",
                },
                {"type": "rename", "fields": {"customer.tier": "tier"}},
                {"type": "project", "fields": ["order_id", "total", "customer", "tier"]},
            ],
            "sink": {"type": "mongo", "collection": orders, "key": ["order_id"], "mode": "merge"},
        },
    )
    batch = [{"order_id": f"o{n}", "customer_id": "c1" if n % 2 else "c2", "total": n, "noise": "x"} for n in range(30)]
    duplicates = batch[:5]  # sent again: dropped by dedupe
    unknown = [{"order_id": "o-unknown", "customer_id": "c9", "total": 1}]
    produce(source, batch + duplicates + unknown, keys=[order["order_id"] for order in batch + duplicates + unknown])
    wait_until(lambda: database[orders].count_documents({}) == 30, timeout=60, message="30 orders stored")
    stored = database[orders].find_one({"_id": "o3"})
    assert stored == {"_id": "o3", "order_id": "o3", "total": 3, "customer": {"name": "Kim"}, "tier": "gold"}
    letters = read_json(pipeline["dead_letter_topic"], 1)
    assert letters[0]["stage"] == "steps[1] enrich" and "c9" in letters[0]["error"]["message"]

    def all_processed() -> bool:
        status = streams.get(f"/api/v1/pipelines/{pipeline['id']}/status").json()
        return sum(worker["totals"]["in"] for worker in status["workers"]) == 36 and status["lag"] == 0

    wait_until(all_processed, timeout=60, interval=0.5, message="36 messages processed")
    assert database[orders].count_documents({}) == 30
    stop_pipeline(streams, pipeline["id"])


def test_sql_sink_upserts_batches_into_postgresql(
    streams: httpx.Client, shared_worker: WorkerProcess, new_topic: Any
) -> None:
    name = unique()
    table = f"{name.replace('-', '_')}_accounts"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(
            sa.text(f"CREATE TABLE {table} (id integer PRIMARY KEY, name text NOT NULL, balance numeric, tags jsonb)")
        )
    try:
        source = new_topic()
        pipeline = start_pipeline(
            streams,
            {
                "name": name,
                "source": {"topics": [source]},
                "steps": [{"type": "map", "set": {"balance": "coalesce(balance, 0) * 100"}}],
                "sink": {"type": "sql", "url": POSTGRES_URL, "table": table, "key": ["id"]},
                "batch": {"max_records": 50},
            },
        )
        first = [{"id": n, "name": f"acct-{n}", "balance": n, "tags": ["a", n], "extra": "ignored"} for n in range(100)]
        updates = [{"id": n, "name": f"renamed-{n}", "balance": 1} for n in range(0, 100, 10)]
        refused = [{"id": 500, "name": None, "balance": 1}]
        produce(source, first + updates + refused)

        def rows() -> list[Any]:
            with engine.connect() as connection:
                return list(connection.execute(sa.text(f"SELECT id, name, balance, tags FROM {table} ORDER BY id")))

        wait_until(lambda: len(rows()) == 100 and rows()[0].name == "renamed-0", timeout=60, message="100 rows")
        final = {row.id: row for row in rows()}
        assert final[10].name == "renamed-10" and final[10].balance == 100 and final[10].tags == ["a", 10]
        assert final[11].name == "acct-11" and final[11].balance == 1100 and final[11].tags == ["a", 11]
        letters = read_json(pipeline["dead_letter_topic"], 1)
        assert letters[0]["stage"] == "sink sql" and letters[0]["error"]["type"] == "NotNullViolation"
        assert json.loads(letters[0]["value_text"]) == refused[0]
        stop_pipeline(streams, pipeline["id"])
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


class _Webhook(BaseHTTPRequestHandler):
    """Records POSTed batches; answers 503 to the first request, 400 to bodies containing "reject"."""

    received: list[tuple[str | None, list[Any]]]
    calls: list[int]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.calls.append(1)
        if len(self.calls) == 1:
            self.send_response(503)
        elif b"reject" in body:
            self.send_response(400)
        else:
            self.received.append((self.headers.get("Idempotency-Key"), json.loads(body)))
            self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"no")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[tuple[str, type[_Webhook]]]:
    handler = type("Webhook", (_Webhook,), {"received": [], "calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    server.shutdown()
    server.server_close()


def test_http_sink_posts_batches_and_retries(
    streams: httpx.Client, shared_worker: WorkerProcess, new_topic: Any, webhook: tuple[str, type[_Webhook]]
) -> None:
    url, handler = webhook
    name = unique()
    source = new_topic()
    pipeline = start_pipeline(
        streams,
        {
            "name": name,
            "source": {"topics": [source]},
            "steps": [{"type": "project", "fields": ["n"]}],
            "sink": {"type": "http", "url": url, "batch_size": 10, "headers": {"X-Token": "t"}},
        },
    )
    produce(source, [{"n": n, "other": 1} for n in range(25)])
    wait_until(
        lambda: sorted(item["n"] for _, batch in handler.received for item in batch) == list(range(25)),
        timeout=60,
        message="all 25 records posted",
    )
    assert all(len(batch) <= 10 for _, batch in handler.received)
    assert all(key and len(key) == 32 for key, _ in handler.received)
    produce(source, [{"n": "reject"}])
    letters = read_json(pipeline["dead_letter_topic"], 1)
    assert letters[0]["stage"] == "sink http" and "answered 400" in letters[0]["error"]["message"]
    stop_pipeline(streams, pipeline["id"])


@pytest.mark.parametrize("kind", ["tumbling_window", "sliding_window"])
def test_windows_aggregate_out_of_order_and_late_events(
    streams: httpx.Client, shared_worker: WorkerProcess, new_topic: Any, database: Any, kind: str
) -> None:
    name = unique()
    source = new_topic()
    collection = f"{name.replace('-', '_')}_windows"
    step: dict[str, Any] = {
        "type": kind,
        "size_s": 60,
        "allowed_lateness_s": 10,
        "time_field": "at",
        "group_by": ["sensor"],
        "aggregations": {
            "n": {"op": "count"},
            "sum": {"op": "sum", "field": "v"},
            "avg": {"op": "avg", "field": "v"},
            "min": {"op": "min", "field": "v"},
            "max": {"op": "max", "field": "v"},
        },
    }
    if kind == "sliding_window":
        step["slide_s"] = 30
    pipeline = start_pipeline(
        streams,
        {
            "name": name,
            "source": {"topics": [source]},
            "steps": [step],
            "sink": {"type": "mongo", "collection": collection},
        },
    )
    base = 1_699_999_980  # seconds, on a minute boundary: 2023-11-14T22:13:00Z
    events = [
        {"sensor": "a", "at": base + 5, "v": 1},
        {"sensor": "a", "at": base + 50, "v": 4},
        {"sensor": "b", "at": base + 20, "v": 10},
        {"sensor": "a", "at": base + 65, "v": 8},  # next window; watermark 65 s
        {"sensor": "a", "at": base + 30, "v": 2},  # out of order, within lateness: counts
        {"sensor": "a", "at": base + 75, "v": 16},  # watermark 75 s: [0, 60) closes (60 + 10 <= 75)
        {"sensor": "a", "at": base + 40, "v": 100},  # tumbling: late; sliding: still counts in [30, 90)
        {"sensor": "a", "at": base + 300, "v": 0},  # moves the watermark far: closes everything before
        {"sensor": "a", "at": base + 45, "v": 1000},  # late for both: every window it belongs to has closed
    ]
    produce(source, events)
    rows = {}

    def emitted() -> bool:
        rows.update({(doc["sensor"], doc["window_start"][11:19]): doc for doc in database[collection].find()})
        return ("a", "22:14:00") in rows

    wait_until(emitted, timeout=60, message="windows emitted")
    summary = {key: (row["n"], row["sum"], row["avg"], row["min"], row["max"]) for key, row in rows.items()}
    if kind == "tumbling_window":
        assert summary == {
            ("a", "22:13:00"): (3, 7, 7 / 3, 1, 4),
            ("b", "22:13:00"): (1, 10, 10.0, 10, 10),
            ("a", "22:14:00"): (2, 24, 12.0, 8, 16),
        }
    else:
        assert summary == {
            ("a", "22:12:30"): (1, 1, 1.0, 1, 1),
            ("a", "22:13:00"): (3, 7, 7 / 3, 1, 4),
            # b arrived when [-30, 30) had already closed (watermark 50 >= 30 + 10): it counts in [0, 60) only.
            ("b", "22:13:00"): (1, 10, 10.0, 10, 10),
            ("a", "22:13:30"): (5, 130, 26.0, 2, 100),
            ("a", "22:14:00"): (2, 24, 12.0, 8, 16),
        }
    first = rows[("a", "22:13:00")]
    assert first["window_end"] == "2023-11-14T22:14:00.000Z"
    assert first["_id"] == "a|2023-11-14T22:13:00.000Z"
    late_values = [1000] if kind == "sliding_window" else [100, 1000]
    late = read_json(pipeline["dead_letter_topic"], len(late_values))
    assert {letter["error"]["type"] for letter in late} == {"LateEvent"}
    assert sorted(json.loads(letter["value_text"])["v"] for letter in late) == late_values
    stop_pipeline(streams, pipeline["id"])
