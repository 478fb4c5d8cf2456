"""ecron: lateness, idle CPU and failover of a three-node cluster on the real servers.

    python -m bench.ecron [--idle-jobs 100000] [--jobs 1000] [--seconds 40] [--idle-seconds 20]

Starts flow_automation and three ecron nodes as real processes (the servers
from scripts/servers.sh must be running), then:

1. registers ``--idle-jobs`` yearly jobs (written straight into MongoDB in
   bulk, the same documents the API writes, so the benchmark does not spend
   minutes on 100,000 POSTs), starts the nodes, and measures their CPU over
   ``--idle-seconds`` while nothing fires;
2. creates ``--jobs`` jobs through the API that fire every second, each
   sending a Kafka message, and lets them run for ``--seconds``; lateness is
   fired time minus scheduled time, from the execution records, over the
   slots before the kill;
   (steady state: the slots from three seconds after the last job was
   created until the kill; the first slot of a new job may be late by the
   time its owner takes to learn of it through the change feed);
3. kills one node with SIGKILL half-way and measures the failover: the
   largest lateness of a slot due after the kill;
4. stops the other two nodes cleanly, then reads every message back from
   Kafka and counts, for every job, the whole seconds from its creation to
   three seconds before the stop that have no message (missed) or more than
   one (doubled).

Ends with ``RESULT p99_late_ms=... idle_cpu_pct=... failover_s=...``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from pymongo import MongoClient

from ecron.executions import parse_slot_execution_id
from tests.integration.fixtures.mongo import MONGO_URL
from tests.integration.fixtures.platform import ServiceProcess, running_platform, wait_until

KAFKA = "127.0.0.1:9092"


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def idle_documents(count: int) -> list[dict]:
    now = datetime.now(UTC)
    schedule = {"cron": "0 0 1 1 *", "timezone": "UTC", "interval": None, "at": None}
    schedule |= {"start_date": None, "end_date": None, "jitter_s": 0.0}
    return [
        {
            "_id": f"idle-{i:06d}",
            "name": f"idle-{i}",
            "description": "",
            "schedules": [schedule],
            "action": {
                "type": "kafka",
                "topic": "unused",
                "key": None,
                "value": None,
                "headers": {},
                "timeout_s": 10.0,
            },
            "retry": {"max_attempts": 3, "backoff_s": 1.0, "max_backoff_s": 60.0, "multiplier": 2.0},
            "max_concurrent": 1,
            "misfire": {"policy": "run_once", "grace_s": 30.0},
            "labels": {},
            "state": "active",
            "revision": 1,
            "next_fire_at": datetime(now.year + 1, 1, 1, tzinfo=UTC),
            "anchor": now,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]


def slot_of(execution_id: str) -> datetime:
    """The slot of a scheduled execution or of the takeover execution that ran it again (``<id>~takeover-...``)."""
    parsed = parse_slot_execution_id(execution_id.split("~", 1)[0])
    assert parsed is not None, execution_id
    return parsed[1]


def create_jobs(urls: list[str], token: str, topic: str, count: int) -> list[str]:
    """Create ``count`` every-second Kafka jobs through the API of the nodes, six requests at a time."""
    clients = [httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) for url in urls]

    def create(i: int) -> str:
        response = clients[i % len(clients)].post(
            "/api/v1/jobs",
            json={
                "name": f"tick-{i}",
                "schedule": {"cron": "* * * * * *"},
                "action": {
                    "type": "kafka",
                    "topic": topic,
                    "key": "{{job_id}}",
                    "value": {"job": "{{job_id}}", "slot": "{{scheduled_time}}"},
                },
            },
        )
        assert response.status_code == 201, response.text
        return response.json()["id"]

    with ThreadPoolExecutor(6) as pool:
        job_ids = list(pool.map(create, range(count)))
    for client in clients:
        client.close()
    return job_ids


def read_back(topic: str) -> Counter[tuple[str, str]]:
    """Every message on the topic, up to the end offsets at the time of the call, as (job, slot) counts."""
    consumer = KafkaConsumer(bootstrap_servers=KAFKA, group_id=None, enable_auto_commit=False)
    partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    ends = consumer.end_offsets(partitions)
    deliveries: Counter[tuple[str, str]] = Counter()
    deadline = time.monotonic() + 120
    while any(consumer.position(p) < ends[p] for p in partitions):
        if time.monotonic() > deadline:
            raise SystemExit("reading the messages back took over 120 s")
        for records in consumer.poll(timeout_ms=1000, max_records=5000).values():
            for record in records:
                message = json.loads(record.value)
                deliveries[(message["job"], message["slot"])] += 1
    consumer.close()
    return deliveries


def missed_slots(
    job_ids: list[str], anchors: dict[str, datetime], deliveries: Counter[tuple[str, str]], window_end: datetime
) -> tuple[int, list[tuple[str, datetime]]]:
    """Whole seconds after each job's creation and up to ``window_end`` with no message (and the first few)."""
    seen: dict[str, set[datetime]] = defaultdict(set)
    for job, slot in deliveries:
        seen[job].add(datetime.fromisoformat(slot))
    missed = 0
    examples: list[tuple[str, datetime]] = []
    for job in job_ids:
        slot = anchors[job].replace(microsecond=0) + timedelta(seconds=1)
        while slot <= window_end:
            if slot not in seen[job]:
                missed += 1
                if len(examples) < 5:
                    examples.append((job, slot))
            slot += timedelta(seconds=1)
    return missed, examples


def print_node_warnings(nodes: list[ServiceProcess]) -> None:
    for node in nodes:
        notable = [line for line in node.log_lines() if line.get("level") in ("warning", "error", "critical")]
        for line in notable[:8]:
            message = f"{str(line.get('msg'))[:200]} {str(line.get('exc', ''))[-600:]}"
            print(f"  node {node.port} {line.get('level')}: {message}")


def read_lateness(
    db: Any, steady_from: datetime, killed_at: datetime, *, timeline: bool
) -> tuple[list[float], list[float]]:
    """Lateness in ms of the steady-state slots, and in s of the slots due within 15 s after the kill."""
    lateness_ms: list[float] = []
    late_after_kill: list[float] = []
    statuses: Counter[str] = Counter()
    by_slot: dict[datetime, list[tuple[float, float]]] = defaultdict(list)
    for outcome in db["ecron_outcomes"].find({}, {"fired_at": 1, "status": 1, "duration_ms": 1}):
        statuses[outcome["status"]] += 1
        if outcome.get("fired_at") is None:
            continue
        slot = slot_of(outcome["_id"])
        late = (outcome["fired_at"] - slot).total_seconds()
        by_slot[slot].append((late * 1000, outcome.get("duration_ms") or 0.0))
        if steady_from <= slot < killed_at:  # steady state; the slots after the kill measure the failover
            lateness_ms.append(late * 1000)
        if killed_at <= slot <= killed_at + timedelta(seconds=15):
            late_after_kill.append(late)
    if timeline:
        for slot, values in sorted(by_slot.items()):
            late = [v[0] for v in values]
            print(
                f"  {slot.time()} fired {len(values):4d} p50 {percentile(late, 0.5):7.0f} ms max {max(late):7.0f} ms;"
                f" longest action {max(v[1] for v in values):6.0f} ms"
            )
    print("execution outcomes:", dict(statuses))
    return lateness_ms, late_after_kill


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-jobs", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
    parser.add_argument("--timeline", action="store_true", help="print the lateness of every second")
    args = parser.parse_args()

    topic = f"bench.ecron.{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=KAFKA, request_timeout_ms=10000)
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
    with tempfile.TemporaryDirectory() as state, running_platform(Path(state), services=()) as platform:
        mongo = MongoClient(f"{MONGO_URL}", tz_aware=True)
        db = mongo[platform.database]
        started = time.perf_counter()
        documents = idle_documents(args.idle_jobs)
        for first in range(0, len(documents), 5000):
            db["ecron_jobs"].insert_many(documents[first : first + 5000], ordered=False)
        print(f"registered {args.idle_jobs} idle jobs in {time.perf_counter() - started:.1f}s")

        started = time.perf_counter()
        nodes: list[ServiceProcess] = [platform.start("ecron") for _ in range(3)]
        print(f"3 ecron nodes ready in {time.perf_counter() - started:.1f}s")
        platform.services.update({f"ecron-{n.port}": n for n in nodes})
        wait_until(
            lambda: all("plan loaded" in n.log_path.read_text() for n in nodes),
            timeout=600,
            interval=1,
            message="every node to load its plan",
        )
        print(f"plans loaded after {time.perf_counter() - started:.1f}s")
        time.sleep(5)  # let the start-up work settle
        before = {n.process.pid: cpu_seconds(n.process.pid) for n in nodes}
        time.sleep(args.idle_seconds)
        idle = [100 * (cpu_seconds(n.process.pid) - before[n.process.pid]) / args.idle_seconds for n in nodes]
        idle_cpu = max(idle)
        print("idle CPU per node (% of one core):", " ".join(f"{v:.2f}" for v in idle))

        token = platform.token()
        started = time.perf_counter()
        job_ids = create_jobs([n.url for n in nodes], token, topic, args.jobs)
        created_at = datetime.now(UTC)
        print(f"created {args.jobs} every-second jobs in {time.perf_counter() - started:.1f}s (6 clients)")
        steady_from = created_at + timedelta(seconds=3)  # every job's owner knows it by then

        time.sleep(args.seconds / 2)
        victim = nodes[2]
        time.sleep(1.5 - time.time() % 1.0)
        killed_at = datetime.now(UTC)
        os.kill(victim.process.pid, signal.SIGKILL)
        victim.process.wait()
        platform.services.pop(f"ecron-{victim.port}")
        print(f"killed node pid {victim.process.pid} at {killed_at.time()}")
        time.sleep(args.seconds / 2)

        # Stop the survivors cleanly (they finish what fired and write its outcome) before reading
        # anything back, so the reading does not disturb the firing it measures. Every slot up to
        # a few seconds before the stop must have fired exactly once.
        window_end = datetime.now(UTC) - timedelta(seconds=3)
        for node in nodes[:2]:
            node.process.send_signal(signal.SIGTERM)
        for node in nodes[:2]:
            node.process.wait(timeout=60)
            platform.services.pop(f"ecron-{node.port}")

        print_node_warnings(nodes)
        lateness_ms, late_after_kill = read_lateness(db, steady_from, killed_at, timeline=args.timeline)
        print("claims:", dict(Counter(d["status"] for d in db["ecron_executions"].find({}, {"status": 1}))))

        anchors = {d["_id"]: d["anchor"] for d in db["ecron_jobs"].find({"_id": {"$in": job_ids}}, {"anchor": 1})}
        deliveries = read_back(topic)
        doubled = sum(n - 1 for n in deliveries.values() if n > 1)
        missed, first_missed = missed_slots(job_ids, anchors, deliveries, window_end)
        print(f"messages read back: {sum(deliveries.values())} for {len(deliveries)} distinct slots")
        for job, slot in first_missed:
            print(f"  missed: job {job} slot {slot.isoformat()}")

        p50 = statistics.median(lateness_ms)
        p99 = percentile(lateness_ms, 0.99)
        failover = max(late_after_kill) if late_after_kill else float("nan")
        print(f"steady-state slots (from {steady_from.time()} to the kill): {len(lateness_ms)}")
        print(f"lateness p50={p50:.1f} ms p99={p99:.1f} ms max={max(lateness_ms):.1f} ms")
        print(f"failover: largest lateness of a slot due after the kill = {failover:.2f} s (lease 5 s)")
        print(f"every slot of every job from its creation to {window_end.time()}: missed={missed} doubled={doubled}")
        mongo.close()
    admin.delete_topics([topic])
    admin.close()
    print(
        f"RESULT p99_late_ms={p99:.1f} idle_cpu_pct={idle_cpu:.2f} failover_s={failover:.2f} "
        f"missed={missed} doubled={doubled}"
    )


if __name__ == "__main__":
    main()
