"""A fan-in's arrivals racing on real FerretDB: upstream tasks of one join ending at once in four executors.

The run lives in a database of its own, so the executor processes other
tests start never touch it: four in-process executors (each with its own
MongoDB client and batch of inserts, as four processes would have) end
every upstream task together, and exactly one of those ends decides the join.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from typing import Any

from pymongo.database import Database

from common.settings import Settings
from flow_automation.engine import journal as jr
from flow_automation.engine import states as st
from flow_automation.engine.runs import Claim, Settled, record, unpack_tasks
from flow_automation.executor import Executor
from tests.integration.crashed_runs import write_running_run
from tests.integration.fixtures.kafka import KAFKA_BOOTSTRAP
from tests.integration.fixtures.mongo import MONGO_URL
from tests.integration.fixtures.platform import Platform

WIDTH = 40
EXECUTORS = 4


def fan_in_flow(platform: Platform) -> tuple[str, dict[str, Any]]:
    """A saved flow root -> m0..m39 -> sink: (its id, its definition)."""
    with platform.client("flow_automation") as api:
        flow_id = f"fan-in-{uuid.uuid4().hex[:8]}"
        middle = [f"m{i}" for i in range(WIDTH)]
        nodes = [{"id": "root", "type": "noop"}, *({"id": node, "type": "noop"} for node in middle)]
        nodes.append({"id": "sink", "type": "noop"})
        edges = [{"from": "root", "to": node} for node in middle] + [{"from": node, "to": "sink"} for node in middle]
        saved = api.post("/api/v1/flows", json={"id": flow_id, "name": flow_id, "nodes": nodes, "edges": edges})
        assert saved.status_code == 201, saved.text
        return flow_id, api.get(f"/api/v1/flows/{flow_id}/versions/1").json()["definition"]


def fan_in_run(platform: Platform, db: Database, failing: int | None = None) -> str:
    """A running run of root -> m0..m39 -> sink: root succeeded, every middle task claimed and running."""
    flow_id, definition = fan_in_flow(platform)
    middle = [f"m{i}" for i in range(WIDTH)]
    records: list[tuple[str, dict[str, Any]]] = [
        ("ready:root:1", {"node": "root", "epoch": 1}),
        ("claim:root:1", {"node": "root", "epoch": 1, "attempt": 1, "executor": "gone"}),
        ("final:root:1", {"node": "root", "epoch": 1, "attempt": 1, "state": "succeeded", "output_keys": []}),
    ]
    for node in middle:
        records.append((f"ready:{node}:1", {"node": node, "epoch": 1}))
        records.append((f"claim:{node}:1", {"node": node, "epoch": 1, "attempt": 1, "executor": "gone"}))
    return write_running_run(db, flow_id, definition, records)


async def end_at_once(database: str, run_id: str, states: dict[str, str]) -> list[str]:
    """End these middle tasks with their states, spread over four executors at once; returns each join decided."""
    settings = Settings(mongo_uri=f"{MONGO_URL}/{database}", kafka_bootstrap=KAFKA_BOOTSTRAP)
    executors = [Executor(settings) for _ in range(EXECUTORS)]
    decided: list[str] = []
    for executor in executors:
        joined = executor.engine._joined

        async def spy(plan: jr.RunPlan, target: str, settled: Settled, joined: Any = joined) -> None:
            decided.append(target)
            await joined(plan, target, settled)

        executor.engine._joined = spy  # type: ignore[method-assign]
    try:
        plans = [await executor.engine.plan(run_id) for executor in executors]

        async def end(node: str) -> bool:
            which = int(node[1:]) % EXECUTORS
            final = record(
                "final", jr.final_id(node, 1), node=node, epoch=1, attempt=1, state=states[node], output_keys=[]
            )
            won, _ = await executors[which].engine.complete(Claim(plans[which], node, 1, 1), final)
            return won

        assert all(await asyncio.gather(*(end(node) for node in random.sample(list(states), len(states)))))
        for executor in executors:
            await executor.engine.arrivals_made()
    finally:
        for executor in executors:
            executor.events.close()
            executor.pool.shutdown(wait=False)
            await executor.client.close()
    return decided


def test_upstreams_ending_at_once_in_four_executors_decide_their_join_exactly_once(
    platform: Platform, mongo_db: Database
) -> None:
    run_id = fan_in_run(platform, mongo_db)
    journal = mongo_db[f"journal.{run_id}"]
    states = {f"m{i}": st.SUCCEEDED for i in range(WIDTH)}
    last = f"m{random.randrange(WIDTH)}"
    # All but one end at once: nobody climbs past the root, the join stays undecided.
    assert asyncio.run(end_at_once(mongo_db.name, run_id, {n: s for n, s in states.items() if n != last})) == []
    assert journal.find_one({"_id": "ready:sink:1"}) is None
    # The last one ends: it climbs past the root and decides the join.
    assert asyncio.run(end_at_once(mongo_db.name, run_id, {last: states[last]})) == ["sink"]
    # A tree node is inserted by the first of its two sides, unless both met in one executor: siblings m2k and
    # m2k+1 ended in different executors here, so every node of the lowest level was inserted.
    assert WIDTH // 2 <= journal.count_documents({"kind": "arrival"}) <= WIDTH - 1
    assert journal.find_one({"_id": "ready:sink:1"}) is not None
    assert journal.count_documents({"kind": "marker"}) == 0  # every upstream usable: decided without reading them
    queued = [task["node"] for entry in mongo_db.task_queue.find({"run_id": run_id}) for task in unpack_tasks(entry)]
    assert queued == ["sink"]


def test_a_failed_upstream_makes_the_join_upstream_failed_once_all_arrived(
    platform: Platform, mongo_db: Database
) -> None:
    run_id = fan_in_run(platform, mongo_db)
    states = {f"m{i}": st.FAILED if i == 17 else st.SUCCEEDED for i in range(WIDTH)}
    assert asyncio.run(end_at_once(mongo_db.name, run_id, states)) == ["sink"]
    journal = mongo_db[f"journal.{run_id}"]
    assert journal.find_one({"_id": "final:sink:1"})["state"] == st.UPSTREAM_FAILED
    # m17's end left its markers first: the join read every upstream's end, the run derived every task's state.
    assert journal.find_one({"_id": "unusable:sink:1"})["node"] == "m17"
    assert {doc["_id"] for doc in journal.find({"kind": "marker"})} == {"unusable:sink:1", "unclean:1"}
    # The sink ended, so the run's end was reached too (one sink: no tree to climb) and the run closed.
    run = mongo_db.runs.find_one({"_id": run_id})
    assert run["state"] == "failed"
    assert run["task_counts"] == {"succeeded": WIDTH, "failed": 1, "upstream_failed": 1}


def test_a_fan_out_queues_neighbouring_tasks_together_in_the_flow_s_order(
    platform: Platform, mongo_db: Database
) -> None:
    """Queue entries of neighbours: their arrivals at the fan-in meet in the executor that takes the entry
    instead of racing for the arrival tree's nodes (the root's downstream tasks were once queued in a set's
    order, and nearly every tree node of a 1,000-wide fan-in was raced for)."""
    flow_id, definition = fan_in_flow(platform)
    records = [
        ("ready:root:1", {"node": "root", "epoch": 1}),
        ("claim:root:1", {"node": "root", "epoch": 1, "attempt": 1, "executor": "gone"}),
    ]
    run_id = write_running_run(mongo_db, flow_id, definition, records)

    async def end_root() -> None:
        executor = Executor(Settings(mongo_uri=f"{MONGO_URL}/{mongo_db.name}", kafka_bootstrap=KAFKA_BOOTSTRAP))
        try:
            plan = await executor.engine.plan(run_id)
            final = record("final", jr.final_id("root", 1), node="root", epoch=1, attempt=1, state=st.SUCCEEDED)
            won, handoff = await executor.engine.complete(Claim(plan, "root", 1, 1), final)
            assert won and handoff is None
        finally:
            executor.events.close()
            executor.pool.shutdown(wait=False)
            await executor.client.close()

    asyncio.run(end_root())
    entries = sorted(
        mongo_db.task_queue.find({"run_id": run_id}), key=lambda entry: int(entry["_id"].split(":")[1][1:])
    )
    assert [[task["node"] for task in unpack_tasks(entry)] for entry in entries] == [
        [f"m{i}" for i in range(start, min(start + 8, WIDTH))] for start in range(0, WIDTH, 8)
    ]
