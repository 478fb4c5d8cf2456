"""ecron as a cluster: three node processes fire every slot exactly once, through a kill -9 and a MongoDB outage."""

from __future__ import annotations

import itertools
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import httpx
import pytest
from pymongo import MongoClient

from common.sharding import owner_of
from tests.integration.fixtures.mongo import MONGO_URL
from tests.integration.fixtures.platform import Platform, ServiceProcess, wait_until
from tests.integration.test_ecron_support import CuttableProxy, Target, execution_list, recording_target

pytestmark = pytest.mark.integration

LEASE_S = 3.0


@contextmanager
def ecron_cluster(platform: Platform, count: int, mongo_uri: str | None = None) -> Iterator[list[ServiceProcess]]:
    """``count`` ecron nodes sharing a database of their own; stopped, checked for errors and dropped afterwards."""
    database = f"ecron_cluster_{uuid.uuid4().hex[:8]}"
    env = {
        "DATAFLOW_MONGO_URI": mongo_uri.format(database=database) if mongo_uri else f"{MONGO_URL}/{database}",
        "DATAFLOW_ECRON_LEASE_S": str(LEASE_S),
        "DATAFLOW_ECRON_HEARTBEAT_S": "0.5",
    }
    nodes: list[ServiceProcess] = []
    try:
        nodes.extend(platform.start("ecron", extra_env=env) for _ in range(count))
        yield nodes
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGTERM)
        for node in nodes:
            try:
                node.process.wait(timeout=30)
            except Exception:  # noqa: BLE001 - a node that does not stop is killed; the test fails below
                node.process.kill()
        with MongoClient(MONGO_URL, serverSelectionTimeoutMS=5000) as client:
            client.drop_database(database)
    problems = [
        f"{node.log_path.name}: {line.get('msg')} {line.get('exc', '')}"
        for node in nodes
        for line in node.log_lines()
        if line.get("level") in ("error", "critical")
    ]
    assert not problems, "ecron nodes logged errors:\n" + "\n".join(problems)


def client_for(platform: Platform, node: ServiceProcess) -> httpx.Client:
    return httpx.Client(base_url=node.url, headers={"Authorization": f"Bearer {platform.token()}"}, timeout=60)


def slot_deliveries(target: Target, path: str) -> Counter[str]:
    return Counter(request["body"]["slot"] for request in target.matching(path))


def assert_contiguous(slots: list[datetime], context: str = "") -> None:
    ordered = sorted(slots)
    missing = [a + timedelta(seconds=1) for a, b in itertools.pairwise(ordered) if (b - a).total_seconds() != 1.0]
    assert not missing, f"missing slots after {[m.isoformat() for m in missing]} {context}"


def test_three_nodes_fire_every_slot_once_through_a_kill(platform: Platform) -> None:
    with recording_target() as target, ecron_cluster(platform, 3) as nodes:
        api_node = nodes[0]
        with client_for(platform, api_node) as cron:
            alive = wait_until(
                lambda: (
                    [n for n in cron.get("/api/v1/nodes").json()["items"] if n["alive"]]
                    if len([n for n in cron.get("/api/v1/nodes").json()["items"] if n["alive"]]) == 3
                    else None
                ),
                timeout=60,
                message="three live nodes",
            )
            node_ids = tuple(sorted(n["id"] for n in alive))
            pid_of = {n["id"]: n["pid"] for n in alive}
            spec = {
                "name": "every-second",
                "schedule": {"cron": "* * * * * *"},
                "action": {"type": "http", "url": f"{target.url}/tick", "body": {"slot": "{{scheduled_time}}"}},
            }
            for _ in range(20):  # a job owned by a node other than the one we talk to, so we can kill its owner
                job = cron.post("/api/v1/jobs", json=spec).json()
                owner = owner_of(job["id"], node_ids)
                if pid_of[owner] != api_node.process.pid:
                    break
                cron.delete(f"/api/v1/jobs/{job['id']}")
            victim = next(node for node in nodes if node.process.pid == pid_of[owner])
            started = time.monotonic()

            wait_until(lambda: len(target.matching("/tick")) >= 10, timeout=60, message="ten deliveries")
            time.sleep(1.5 - time.time() % 1.0)  # mid-way between two slots: no request is in flight
            killed_at = datetime.now().astimezone()
            os.kill(victim.process.pid, signal.SIGKILL)
            victim.process.wait(timeout=10)

            time.sleep(max(0.0, 30 - (time.monotonic() - started)))
            assert cron.post(f"/api/v1/jobs/{job['id']}/pause").status_code == 200
            time.sleep(LEASE_S + 1)
            executions = execution_list(cron, job["id"])

    deliveries = slot_deliveries(target, "/tick")
    doubled = {slot: n for slot, n in deliveries.items() if n > 1}
    recorded = {
        e["scheduled_time"]: (e["status"], e["node"], e.get("takeovers"), e.get("fired_at")) for e in executions
    }
    assert not doubled, f"slots fired twice: {doubled}; killed at {killed_at}; executions: {recorded}"
    slots = [datetime.fromisoformat(slot) for slot in deliveries]
    assert len(slots) >= 25
    assert_contiguous(slots, f"killed at {killed_at}; executions: {recorded}")
    after_kill = [s for s in slots if s > killed_at + timedelta(seconds=LEASE_S + 2)]
    assert after_kill, "nothing fired after the kill"
    delays = {
        request["body"]["slot"]: request["at"] - datetime.fromisoformat(request["body"]["slot"]).timestamp()
        for request in target.matching("/tick")
    }
    assert max(delays.values()) <= LEASE_S + 2.5, f"a slot waited longer than the lease: {max(delays.values()):.2f}s"
    ids = [e["id"] for e in executions]
    assert len(ids) == len(set(ids))
    # The victim held claims for the next slots (claimed ahead of time) that may have fired before
    # it died: each is recorded as interrupted and run again by a takeover execution.
    by_id = {e["id"]: e for e in executions}
    continued = [e for e in executions if e["trigger"] == "takeover"]
    assert continued, f"no takeover execution; executions: {recorded}"
    for execution in continued:
        interrupted = by_id[execution["continues"]]
        assert interrupted["status"] == "interrupted" and interrupted["continued_as"] == execution["id"]
        assert execution["status"] == "succeeded" and execution["scheduled_time"] == interrupted["scheduled_time"]
    fired = [e for e in executions if e["status"] == "succeeded"]
    assert {datetime.fromisoformat(e["scheduled_time"]) for e in fired} >= set(slots)
    assert any(
        e["node"] != victim_id(pid_of, victim) for e in fired if datetime.fromisoformat(e["scheduled_time"]) > killed_at
    )


def victim_id(pid_of: dict[str, int], victim: ServiceProcess) -> str:
    return next(node_id for node_id, pid in pid_of.items() if pid == victim.process.pid)


def test_mongodb_outage_loses_no_slot_and_applies_each_misfire_policy(platform: Platform) -> None:
    proxy = CuttableProxy(upstream_port=27017)
    try:
        with (
            recording_target() as target,
            ecron_cluster(platform, 1, mongo_uri=f"mongodb://127.0.0.1:{proxy.port}/{{database}}") as nodes,
            client_for(platform, nodes[0]) as cron,
        ):
            jobs = {}
            for policy in ("skip", "run_once", "run_all"):
                response = cron.post(
                    "/api/v1/jobs",
                    json={
                        "name": policy,
                        "schedule": {"cron": "* * * * * *"},
                        "misfire": {"policy": policy, "grace_s": 1},
                        "action": {
                            "type": "http",
                            "url": f"{target.url}/{policy}",
                            "body": {"slot": "{{scheduled_time}}"},
                        },
                    },
                )
                assert response.status_code == 201, response.text
                jobs[policy] = response.json()["id"]
            wait_until(lambda: len(target.matching("/run_all")) >= 2, timeout=60, message="firing before the outage")
            proxy.interrupt()
            time.sleep(8)  # longer than the lookahead (2.5 s: slots claimed before the cut still fire) plus the grace
            proxy.restore()
            outage_end = time.time()
            wait_until(
                lambda: any(r["at"] > outage_end + 3 for r in target.matching("/run_all")),
                timeout=90,
                message="firing after the outage",
            )
            for job_id in jobs.values():
                cron.post(f"/api/v1/jobs/{job_id}/pause")
            time.sleep(2)
            histories = {policy: execution_list(cron, job_id) for policy, job_id in jobs.items()}
    finally:
        proxy.close()

    for policy in jobs:
        deliveries = slot_deliveries(target, f"/{policy}")
        assert max(deliveries.values()) == 1, f"{policy}: a slot fired twice"
    # run_all: every slot fired, late ones included.
    all_slots = [datetime.fromisoformat(s) for s in slot_deliveries(target, "/run_all")]
    assert_contiguous(all_slots)
    # skip: the late slots are recorded as missed, never delivered; together with the fired ones nothing is lost.
    skip = histories["skip"]
    missed = [e for e in skip if e["status"] == "missed"]
    assert len(missed) >= 2 and all("skip" in e["misfire"] for e in missed)
    assert not {datetime.fromisoformat(e["scheduled_time"]) for e in missed} & {
        datetime.fromisoformat(s) for s in slot_deliveries(target, "/skip")
    }
    recorded = [datetime.fromisoformat(e["scheduled_time"]) for e in skip if e["status"] in ("missed", "succeeded")]
    assert_contiguous(recorded)
    # run_once: the late slots collapse into the most recent one, which fires; the others are missed.
    once = histories["run_once"]
    once_missed = {datetime.fromisoformat(e["scheduled_time"]) for e in once if e["status"] == "missed"}
    once_delivered = {datetime.fromisoformat(s) for s in slot_deliveries(target, "/run_once")}
    assert once_missed and not once_missed & once_delivered
    assert_contiguous(list(once_missed | once_delivered))
    assert len(once_delivered) < len(all_slots)
