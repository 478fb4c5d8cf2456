"""Scale-out: two worker processes share a 4-partition topic; one is killed with SIGKILL; nothing is lost.

The sink is a PostgreSQL table with upserts by key, so the messages the killed
worker had written but not committed, delivered again to the survivor, leave
exactly one row each: the row count must equal the number produced.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.integration.fixtures.platform import wait_until
from tests.integration.test_stream_support import (
    WorkerProcess,
    Workers,
    produce,
    start_pipeline,
    stop_pipeline,
    streams,
    topic_size,
    unique,
    wait_for_running,
    workers,
)

pytestmark = pytest.mark.integration

__all__ = ["streams", "workers"]

TOTAL = 3000
POSTGRES_URL = "postgresql+psycopg://dataflow:dataflow@127.0.0.1:5432/dataflow_test"


def partitions_by_worker(client: httpx.Client, pipeline_id: str, source: str) -> dict[str, set[int]]:
    status = client.get(f"/api/v1/pipelines/{pipeline_id}/status").json()
    owners: dict[str, set[int]] = {}
    for worker in status["workers"]:
        for entry in worker["partitions"]:
            if entry["topic"] == source:
                owners.setdefault(worker["worker_id"], set()).add(entry["partition"])
    return owners


def test_killed_worker_loses_no_message(streams: httpx.Client, workers: Workers, new_topic: Any) -> None:
    name = unique("scale-")
    source = new_topic(partitions=4)
    table = f"{name.replace('-', '_')}_events"
    engine = sa.create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(sa.text(f"CREATE TABLE {table} (n integer PRIMARY KEY, doubled integer, seen integer)"))
    try:
        pipeline = start_pipeline(
            streams,
            {
                "name": name,
                "source": {"topics": [source]},
                "steps": [{"type": "map", "set": {"doubled": "n * 2", "seen": "_partition"}}],
                "sink": {"type": "sql", "url": POSTGRES_URL, "table": table, "key": ["n"]},
                "batch": {"max_records": 100},
            },
        )
        first = workers.start([name], name=f"{name}-a")
        second = workers.start([name], name=f"{name}-b")
        wait_for_running(streams, pipeline["id"])
        wait_for_spread(streams, pipeline["id"], source, (first, second))

        def stored() -> dict[int, Any]:
            with engine.connect() as connection:
                return {row.n: row for row in connection.execute(sa.text(f"SELECT n, doubled, seen FROM {table}"))}

        # Produce steadily in the background; kill one worker mid-stream.
        producer = SteadyProducer(source)
        producer.start()
        wait_until(lambda: len(stored()) >= TOTAL // 4, timeout=90, message="a quarter processed")
        first.process.send_signal(signal.SIGKILL)
        first.process.wait(timeout=10)
        producer.join(timeout=120)
        assert not producer.is_alive() and not producer.failures, producer.failures
        assert topic_size(source) == TOTAL

        # The survivor takes the killed worker's partitions over (after the session timeout) and catches up.
        try:
            wait_until(lambda: len(stored()) == TOTAL, timeout=150, interval=1, message=f"{TOTAL} rows")
        except AssertionError:
            missing = sorted(set(range(TOTAL)) - set(stored()))
            status = streams.get(f"/api/v1/pipelines/{pipeline['id']}/status").json()
            raise AssertionError(f"{len(missing)} missing: {missing[:40]}; status: {status}") from None
        rows = stored()
        assert sorted(rows) == list(range(TOTAL))
        assert all(row.doubled == n * 2 for n, row in rows.items())
        assert {row.seen for row in rows.values()} == {0, 1, 2, 3}
        wait_until(
            lambda: partitions_by_worker(streams, pipeline["id"], source).get(second.name) == {0, 1, 2, 3},
            timeout=30,
            interval=0.5,
            message="the survivor reporting all 4 partitions",
        )
        wait_until(
            lambda: streams.get(f"/api/v1/pipelines/{pipeline['id']}/status").json()["lag"] == 0,
            timeout=60,
            interval=0.5,
            message="lag back to 0",
        )
        stop_pipeline(streams, pipeline["id"])
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
        engine.dispose()


def wait_for_spread(client: httpx.Client, pipeline_id: str, source: str, started: tuple[WorkerProcess, ...]) -> None:
    """Until the source's partitions are spread over both workers; on failure, their thread stacks help."""

    def spread() -> bool:
        owners = partitions_by_worker(client, pipeline_id, source)
        return len(owners) == 2 and sorted(p for parts in owners.values() for p in parts) == [0, 1, 2, 3]

    try:
        wait_until(spread, timeout=90, interval=0.5, message="the 4 partitions spread over both workers")
    except AssertionError:
        for worker in started:
            worker.process.send_signal(signal.SIGUSR1)  # the worker prints every thread's stack
        time.sleep(2)
        raise AssertionError("\n".join(worker.log_path.read_text()[-8000:] for worker in started)) from None


class SteadyProducer(threading.Thread):
    """Produces ``{"n": 0..TOTAL-1}`` keyed by n, 200 at a time, in the background."""

    def __init__(self, topic: str) -> None:
        super().__init__(daemon=True)
        self.topic = topic
        self.failures: list[Exception] = []

    def run(self) -> None:
        try:
            for start in range(0, TOTAL, 200):
                numbers = range(start, start + 200)
                produce(self.topic, [{"n": n} for n in numbers], keys=[str(n) for n in numbers])
                time.sleep(0.05)
        except Exception as exc:  # noqa: BLE001 - reported by the test thread
            self.failures.append(exc)
