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
3. kills one node with SIGKILL half-way and measures the failover: the
   largest lateness of a slot due after the kill;
4. reads every message back from Kafka and counts missed and doubled slots.

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
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic
from pymongo import MongoClient

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
    text = execution_id.split("@", 1)[1].split("~", 1)[0]
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--idle-jobs", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--idle-seconds", type=float, default=20.0)
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
        clients = [
            httpx.Client(base_url=n.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) for n in nodes
        ]
        started = time.perf_counter()
        job_ids = []
        for i in range(args.jobs):
            response = clients[i % 3].post(
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
            job_ids.append(response.json()["id"])
        created_at = datetime.now(UTC)
        print(f"created {args.jobs} every-second jobs in {time.perf_counter() - started:.1f}s")

        time.sleep(args.seconds / 2)
        victim = nodes[2]
        time.sleep(1.5 - time.time() % 1.0)
        killed_at = datetime.now(UTC)
        os.kill(victim.process.pid, signal.SIGKILL)
        victim.process.wait()
        platform.services.pop(f"ecron-{victim.port}")
        print(f"killed node pid {victim.process.pid} at {killed_at.time()}")
        time.sleep(args.seconds / 2)
        window_end = datetime.now(UTC) - timedelta(seconds=10)  # every slot before this had time to fire
        time.sleep(2)

        outcomes = list(db["ecron_outcomes"].find({}, {"fired_at": 1, "status": 1}))
        lateness_ms = []
        late_after_kill = []
        statuses: Counter[str] = Counter()
        for outcome in outcomes:
            statuses[outcome["status"]] += 1
            if outcome.get("fired_at") is None:
                continue
            slot = slot_of(outcome["_id"])
            late = (outcome["fired_at"] - slot).total_seconds()
            if slot < killed_at:  # steady state; the slots after the kill measure the failover
                lateness_ms.append(late * 1000)
            if killed_at <= slot <= killed_at + timedelta(seconds=15):
                late_after_kill.append(late)
        print("execution outcomes:", dict(statuses))

        consumer = KafkaConsumer(
            topic, bootstrap_servers=KAFKA, auto_offset_reset="earliest", consumer_timeout_ms=5000, group_id=None
        )
        deliveries: Counter[tuple[str, str]] = Counter(
            (m["job"], m["slot"]) for m in (json.loads(record.value) for record in consumer)
        )
        consumer.close()
        by_job: dict[str, list[datetime]] = defaultdict(list)
        for job, slot in deliveries:
            by_job[job].append(datetime.fromisoformat(slot))
        missed = 0
        for job in job_ids:
            slots = sorted(s for s in by_job.get(job, []) if s <= window_end)
            if not slots:
                missed += 1
                continue
            expected = int((slots[-1] - slots[0]).total_seconds()) + 1
            missed += expected - len(slots)
            missed += max(0, int((window_end - slots[-1]).total_seconds()))  # slots after the last one seen
        doubled = sum(n - 1 for n in deliveries.values() if n > 1)

        p50 = statistics.median(lateness_ms)
        p99 = percentile(lateness_ms, 0.99)
        failover = max(late_after_kill) if late_after_kill else float("nan")
        print(f"slots fired before the kill: {len(lateness_ms)} (jobs created from {created_at.time()})")
        print(f"lateness p50={p50:.1f} ms p99={p99:.1f} ms max={max(lateness_ms):.1f} ms")
        print(f"failover: largest lateness of a slot due after the kill = {failover:.2f} s (lease 5 s)")
        print(f"missed slots={missed} doubled slots={doubled}")
        for client in clients:
            client.close()
        mongo.close()
    admin.delete_topics([topic])
    admin.close()
    print(
        f"RESULT p99_late_ms={p99:.1f} idle_cpu_pct={idle_cpu:.2f} failover_s={failover:.2f} "
        f"missed={missed} doubled={doubled}"
    )


if __name__ == "__main__":
    main()
