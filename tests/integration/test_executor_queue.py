"""The executor's task queue on real FerretDB and Kafka: claiming entries (with an in-process executor), and the
doorbell that wakes idle executors when tasks are queued.

The run lives in a database of its own, so the executor processes other
tests start never touch it: the test decides exactly which executor takes
which entry.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.database import Database

from common.settings import Settings
from flow_automation.engine.doorbell import DoorbellListener
from flow_automation.engine.events import FLOW_EVENTS_TOPIC, EventPublisher
from flow_automation.engine.runs import pack_tasks, queue_entry_id, unpack_tasks
from flow_automation.executor import CLAIM_CANDIDATES, Executor
from tests.integration.crashed_runs import write_running_run
from tests.integration.fixtures.kafka import KAFKA_BOOTSTRAP
from tests.integration.fixtures.mongo import MONGO_URL
from tests.integration.fixtures.platform import Platform, wait_until

WIDTH = 10


def fan_out_run(platform: Platform, db: Database) -> str:
    """A running run of ``root`` -> b0..b9: root succeeded, b0 claimed and finished long ago, b1..b9 ready."""
    with platform.client("flow_automation") as api:
        flow_id = f"queue-{uuid.uuid4().hex[:8]}"
        nodes = [{"id": "root", "type": "noop"}, *({"id": f"b{i}", "type": "noop"} for i in range(WIDTH))]
        edges = [{"from": "root", "to": f"b{i}"} for i in range(WIDTH)]
        saved = api.post("/api/v1/flows", json={"id": flow_id, "name": flow_id, "nodes": nodes, "edges": edges})
        assert saved.status_code == 201, saved.text
        definition = api.get(f"/api/v1/flows/{flow_id}/versions/1").json()["definition"]
    done = {"epoch": 1, "attempt": 1, "state": "succeeded", "output_keys": [], "outputs": {}}
    records: list[tuple[str, dict[str, Any]]] = [
        ("ready:root:1", {"node": "root", "epoch": 1}),
        ("claim:root:1", {"node": "root", "epoch": 1, "attempt": 1, "executor": "gone"}),
        ("final:root:1", {"node": "root", **done}),
        *((f"ready:b{i}:1", {"node": f"b{i}", "epoch": 1}) for i in range(WIDTH)),
        ("claim:b0:1", {"node": "b0", "epoch": 1, "attempt": 1, "executor": "gone"}),
        ("final:b0:1", {"node": "b0", **done}),
    ]
    return write_running_run(db, flow_id, definition, records)


async def claim_once(database: str, free: int) -> list[str]:
    settings = Settings(mongo_uri=f"{MONGO_URL}/{database}", kafka_bootstrap=KAFKA_BOOTSTRAP)
    executor = Executor(settings, concurrency=free)
    try:
        claims, taken = await executor._claim(free)
        await executor._clear_taken(*taken)
        return [claim.node for claim in claims]
    finally:
        executor.events.close()
        executor.pool.shutdown(wait=False)
        await executor.client.close()


def test_the_rest_of_an_entry_whose_first_task_was_claimed_long_ago_goes_back_on_the_queue(
    platform: Platform, mongo_db: Database
) -> None:
    # An entry queued again (by healing, or left over by another executor) may start with a task
    # claimed long ago; an executor with fewer free slots than the entry holds claims what it can and
    # must put the rest back, although nobody wins the entry's first task.
    run_id = fan_out_run(platform, mongo_db)
    tasks = [{"node": f"b{i}", "epoch": 1, "attempt": 1, "transient": 0} for i in range(WIDTH)]
    mongo_db.task_queue.insert_one(
        {
            "_id": queue_entry_id(run_id, "b0", 1, WIDTH),
            "run_id": run_id,
            "run_attempt": 1,
            "due": datetime.now(UTC) - timedelta(seconds=1),
            "tasks": pack_tasks(tasks),
        }
    )
    claimed = asyncio.run(claim_once(mongo_db.name, 4))
    assert claimed == ["b1", "b2", "b3"]  # b0 was claimed before
    queued = [task["node"] for entry in mongo_db.task_queue.find({"run_id": run_id}) for task in unpack_tasks(entry)]
    assert sorted(queued) == [f"b{i}" for i in range(4, WIDTH)]
    # The next executor takes the rest.
    assert sorted(asyncio.run(claim_once(mongo_db.name, 8))) == [f"b{i}" for i in range(4, WIDTH)]
    assert mongo_db.task_queue.count_documents({"run_id": run_id}) == 0


def test_tasks_due_behind_a_head_of_retries_backing_off_are_claimed(platform: Platform, mongo_db: Database) -> None:
    # An executor reads only the head of the queue; when every entry there waits out a retry's backoff, it
    # must look further for tasks that are due, or they would wait as long as the retries do.
    run_id = fan_out_run(platform, mongo_db)
    later = datetime.now(UTC) + timedelta(hours=1)
    waiting = [
        {"_id": f"0-waiting-{i}", "run_id": f"0-waiting-{i}", "run_attempt": 1, "due": later, "tasks": "[]"}
        for i in range(CLAIM_CANDIDATES + 2)
    ]
    mongo_db.task_queue.insert_many(waiting)
    tasks = [{"node": f"b{i}", "epoch": 1, "attempt": 1, "transient": 0} for i in range(1, 4)]
    mongo_db.task_queue.insert_one(
        {
            "_id": queue_entry_id(run_id, "b1", 1, 3),
            "run_id": run_id,
            "run_attempt": 1,
            "due": datetime.now(UTC) - timedelta(seconds=1),
            "tasks": pack_tasks(tasks),
        }
    )
    head = [entry["_id"] for entry in mongo_db.task_queue.find({}).limit(CLAIM_CANDIDATES)]
    assert all(entry_id.startswith("0-waiting-") for entry_id in head)  # the due entry is not at the head
    assert sorted(asyncio.run(claim_once(mongo_db.name, 4))) == ["b1", "b2", "b3"]
    assert mongo_db.task_queue.count_documents({}) == len(waiting)  # the waiting ones are left alone


def test_queuing_a_runs_tasks_rings_the_doorbell_idle_executors_listen_to(platform: Platform) -> None:
    rung: list[str] = []
    listener = DoorbellListener(Settings(kafka_bootstrap=KAFKA_BOOTSTRAP), rung.extend)
    listener.start()
    try:
        assert listener.listening.wait(30), "the doorbell listener never reached the topic"
        with platform.client("flow_automation") as api:
            flow_id = f"doorbell-{uuid.uuid4().hex[:8]}"
            saved = api.post(
                "/api/v1/flows", json={"id": flow_id, "name": flow_id, "nodes": [{"id": "a", "type": "noop"}]}
            )
            assert saved.status_code == 201, saved.text
            started = api.post(f"/api/v1/flows/{flow_id}/runs", json={})
            assert started.status_code == 201, started.text
        run_id = started.json()["run_id"]
        wait_until(lambda: run_id in rung, timeout=30, message="a ring for the new run")
    finally:
        listener.stop()


def test_task_events_go_to_the_partition_the_producer_picks_for_their_run() -> None:
    # The executor works out a run's partition once (the default partitioner's murmur2): every event of the run
    # must land where the run's first event went, which the SSE stream of the run reads.
    events = EventPublisher(Settings(kafka_bootstrap=KAFKA_BOOTSTRAP))
    try:
        run_ids = [uuid.uuid4().hex[:24] for _ in range(30)]
        by_default = {
            run_id: events.producer.send(FLOW_EVENTS_TOPIC, key=run_id, value={"probe": run_id}).get(30).partition
            for run_id in run_ids
        }
        assert len(set(by_default.values())) > 1  # the topic has several partitions: the comparison means something
        assert {run_id: events._partition_of(run_id.encode()) for run_id in run_ids} == by_default
    finally:
        events.close()


def test_the_event_producer_knows_the_event_topic_before_its_first_send() -> None:
    # Sends run on the event loop: the first one must not wait for the topic's metadata (about 0.1 s).
    events = EventPublisher(Settings(kafka_bootstrap=KAFKA_BOOTSTRAP))
    try:
        events.ensure_topics()
        partitions = events.producer._metadata.partitions_for_topic(FLOW_EVENTS_TOPIC)
        assert partitions, "ensure_topics left the producer without the event topic's partitions"
        assert events._emitted == 0  # nothing was sent to learn them
    finally:
        events.close()
