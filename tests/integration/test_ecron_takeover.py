"""Taking over a dead ecron node survives MongoDB errors in the middle of it (real FerretDB and Kafka).

One node runs in this process. A dead node's document lists slots of Kafka
jobs: some due before its lease ran out (they may have fired, so they are
marked interrupted and run again as takeover executions), some due after
(they cannot have started and run as they are), and a manual run (looked up).
Every write the takeover makes is made to fail once *after* it reached
MongoDB, the worst case: the write landed and its answer was lost. The
takeover must repeat its steps and still deliver every slot exactly once.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from pymongo import AsyncMongoClient
from pymongo.database import Database
from pymongo.errors import AutoReconnect

from common.settings import Settings
from ecron.actions.http import HttpRunner
from ecron.actions.kafka import KafkaRunner
from ecron.executions import ExecutionStore, OutcomeWriter, manual_execution_id, slot_execution_id
from ecron.jobs import JobStore, job_document
from ecron.models import JobSpec
from ecron.nodes import NodeRegistry
from ecron.runner import ExecutionRunner
from ecron.scheduler import Scheduler
from ecron.service_tokens import ServiceTokens
from ecron.settings import EcronSettings
from tests.integration.fixtures.kafka import KAFKA_BOOTSTRAP
from tests.integration.fixtures.mongo import MONGO_URL


class AnswerLostOnce:
    """A collection whose named methods each fail once with AutoReconnect after the write reached MongoDB."""

    def __init__(self, collection: Any, *methods: str) -> None:
        self._collection = collection
        self._fail = set(methods)
        self.failed: list[str] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._collection, name)
        if name not in self._fail:
            return method

        async def write_then_lose_the_answer(*args: Any, **kwargs: Any) -> Any:
            result = await method(*args, **kwargs)
            if name in self._fail:
                self._fail.discard(name)
                self.failed.append(name)
                raise AutoReconnect(f"connection lost after {name} (injected)")
            return result

        return write_then_lose_the_answer


def read_topic(topic: str) -> list[dict[str, Any]]:
    consumer = KafkaConsumer(bootstrap_servers=KAFKA_BOOTSTRAP, enable_auto_commit=False, group_id=None)
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])
        consumer.seek_to_beginning(partition)
        end = consumer.end_offsets([partition])[partition]
        values = []
        while consumer.position(partition) < end:
            for records in consumer.poll(timeout_ms=1000).values():
                values += [json.loads(record.value) for record in records]
        return values
    finally:
        consumer.close()


async def take_over_through_errors(db_name: str, topic: str) -> dict[str, Any]:
    client: AsyncMongoClient = AsyncMongoClient(MONGO_URL, tz_aware=True)
    db = client[db_name]
    settings = Settings(kafka_bootstrap=KAFKA_BOOTSTRAP)
    ecron_settings = EcronSettings()
    jobs, executions = JobStore(db), ExecutionStore(db)
    nodes = NodeRegistry(db, "survivor-aaaaaa", "test", ecron_settings.lease_s)
    runner = ExecutionRunner(
        jobs=jobs,
        writer=OutcomeWriter(executions),
        http=HttpRunner(ServiceTokens(settings), 30),
        kafka=KafkaRunner(settings),
        node_id=nodes.node_id,
        max_in_flight=100,
        cache_size=100,
    )
    scheduler = Scheduler(db=db, jobs=jobs, executions=executions, nodes=nodes, runner=runner, settings=ecron_settings)
    await nodes.register()
    scheduler.writer.start()
    try:
        action = {
            "type": "kafka",
            "topic": topic,
            "key": "{{job_id}}",
            "value": {"job": "{{job_id}}", "slot": "{{scheduled_time}}"},
        }
        created = [
            await jobs.create(
                JobSpec.model_validate({"name": f"j{n}", "schedule": {"cron": "* * * * * *"}, "action": action})
            )
            for n in range(6)
        ]
        for job in created:
            scheduler.apply_job(job_document(job), job.id)
        now = datetime.now(UTC).replace(microsecond=0)
        lease_expired_at = now - timedelta(seconds=1)
        before = now - timedelta(seconds=3)  # due before the lease ran out: may have fired
        after = now + timedelta(seconds=2)  # due after it: cannot have started
        maybe_fired = [slot_execution_id(job.id, before) for job in created[:3]]
        unstarted = [slot_execution_id(job.id, after) for job in created[3:]]
        manual = manual_execution_id(created[0].id, now - timedelta(seconds=2))
        claims = [
            {
                "_id": i,
                "job_id": i.split("@")[0],
                "trigger": "schedule",
                "scheduled_time": t,
                "fire_time": t,
                "status": "claimed",
                "node": "dead-bbbbbb",
                "attempt": 0,
                "takeovers": 0,
                "claimed_at": now,
            }
            for ids, t in ((maybe_fired, before), (unstarted, after))
            for i in ids
        ] + [
            {
                "_id": manual,
                "job_id": created[0].id,
                "trigger": "manual",
                "scheduled_time": now,
                "fire_time": now,
                "status": "claimed",
                "node": "dead-bbbbbb",
                "attempt": 0,
                "takeovers": 0,
                "claimed_at": now,
            }
        ]
        await executions.claims.insert_many(claims)
        dead = {
            "_id": "dead-bbbbbb",
            "lease_expires_at": lease_expired_at,
            "heartbeat_at": lease_expired_at,
            "active": maybe_fired + unstarted + [manual],
            "claiming": [],
        }
        await nodes.collection.insert_one(dead)

        flaky = {
            "takeovers": AnswerLostOnce(nodes.takeovers, "insert_one"),
            "nodes": AnswerLostOnce(nodes.collection, "delete_one"),
            "outcomes": AnswerLostOnce(executions.outcomes, "insert_many"),
            "claims": AnswerLostOnce(executions.claims, "insert_many"),
        }
        nodes.takeovers = flaky["takeovers"]
        nodes.collection = flaky["nodes"]
        executions.outcomes = flaky["outcomes"]
        executions.claims = flaky["claims"]
        await scheduler._take_over(dead)
        await runner.drain(20)
        await scheduler.writer.flush()
        outcomes = {d["_id"]: d async for d in db["ecron_outcomes"].find({})}
        return {
            "failed": {name: f.failed for name, f in flaky.items()},
            "outcomes": outcomes,
            "maybe_fired": maybe_fired,
            "unstarted": unstarted,
            "manual": manual,
            "slots": {job.id: None for job in created},
            "before": before,
            "after": after,
            "dead_left": await db["ecron_nodes"].find_one({"_id": "dead-bbbbbb"}),
        }
    finally:
        await scheduler.writer.stop()
        await runner.close()
        await client.close()


def test_a_takeover_interrupted_by_mongodb_errors_runs_every_slot_exactly_once(
    mongo_db: Database, new_topic: Any
) -> None:
    topic = new_topic()
    result = asyncio.run(take_over_through_errors(mongo_db.name, topic))
    # Every injected failure happened, so every recovery path ran.
    assert all(failed for failed in result["failed"].values()), result["failed"]
    assert result["dead_left"] is None
    outcomes = result["outcomes"]
    for execution_id in result["maybe_fired"]:
        interrupted = outcomes[execution_id]
        assert interrupted["status"] == "interrupted"
        assert outcomes[interrupted["continued_as"]]["status"] == "succeeded"
    for execution_id in [*result["unstarted"], result["manual"]]:
        assert outcomes[execution_id]["status"] == "succeeded", outcomes.get(execution_id)
    delivered = Counter((value["job"], value["slot"]) for value in read_topic(topic))
    assert max(delivered.values()) == 1, delivered
    expected = {(i.split("@")[0], result["before"].isoformat()) for i in result["maybe_fired"]} | {
        (i.split("@")[0], result["after"].isoformat()) for i in result["unstarted"]
    }
    assert expected <= set(delivered), expected - set(delivered)
    assert len(delivered) == len(expected) + 1  # and the manual run
