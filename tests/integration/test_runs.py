"""Runs end to end: the orchestrator API, two executor processes, coderunner, FerretDB and Kafka, all real.

A small HTTP server in the test process plays the outside world for the
``http.request`` node: slow, failing and flaky endpoints drive timeouts,
retries, cancellation and the executor-kill test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from flow_automation.engine import states as st
from tests.integration.crashed_runs import write_running_run
from tests.integration.fixtures.platform import wait_until
from tests.local_http import JsonHandler, serve

pytestmark = pytest.mark.integration

TERMINAL = {"succeeded", "failed", "canceled"}


class World:
    """The endpoints the flows call: /ok, /fail, /slow?s=N, /flaky/<key>?fails=N, /gate/<key>."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.open_gates: set[str] = set()
        world = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                args = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
                world.calls[path] += 1
                if path.startswith("/slow"):
                    time.sleep(float(args.get("s", "5")))
                    self.answer(200, {"slept": args.get("s")})
                elif path.startswith("/flaky/"):
                    ok = world.calls[path] > int(args.get("fails", "2"))
                    self.answer(200 if ok else 503, {"call": world.calls[path]})
                elif path.startswith("/gate/"):
                    self.answer(200 if path in world.open_gates else 500, {"gate": path})
                elif path == "/fail":
                    self.answer(500, {"error": "always"})
                else:
                    self.answer(200, {"ok": True, "n": world.calls[path]})

        self.server, self.url = serve(Handler)


@pytest.fixture(scope="module")
def world():
    world = World()
    yield world
    world.server.shutdown()
    world.server.server_close()


@pytest.fixture(scope="module")
def executors(platform):
    started = [platform.start_executor(), platform.start_executor()]
    yield started


@pytest.fixture
def api(platform, executors):
    with platform.client("flow_automation") as client:
        yield client


def unique(prefix: str = "run") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def save(api, flow: dict[str, Any]) -> str:
    response = api.post("/api/v1/flows", json=flow)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def start(api, flow_id: str, **body: Any) -> str:
    response = api.post(f"/api/v1/flows/{flow_id}/runs", json=body)
    assert response.status_code == 201, response.text
    # Any state: an executor may finish a short run before the answer reads it back.
    assert response.json()["state"] in st.RUN_STATES
    return response.json()["run_id"]


def wait_run(api, run_id: str, *, timeout: float = 60) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        run = api.get(f"/api/v1/runs/{run_id}").json()
        return run if run["state"] in TERMINAL else None

    return wait_until(finished, timeout=timeout, interval=0.2, message=f"run {run_id} to end")


def tasks_of(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["node_id"]: task for task in run["tasks"]}


def http_node(node_id: str, url: str, **extra: Any) -> dict[str, Any]:
    return {"id": node_id, "type": "http.request", "config": {"url": url}, **extra}


def test_chain_runs_to_success(api) -> None:
    flow_id = save(
        api,
        {
            "id": unique("chain"),
            "name": "chain",
            "nodes": [{"id": f"n{i}", "type": "noop"} for i in range(3)],
            "edges": [{"from": "n0", "to": "n1"}, {"from": "n1", "to": "n2"}],
        },
    )
    run = wait_run(api, start(api, flow_id))
    assert run["state"] == "succeeded", run
    assert run["task_counts"] == {"succeeded": 3}  # the run ended without deriving each task: none left a marker
    tasks = tasks_of(run)
    assert all(task["state"] == "succeeded" and task["attempts"] == 1 for task in tasks.values())
    assert [h["state"] for h in tasks["n2"]["history"]][-3:] == ["ready", "running", "succeeded"]
    listed = api.get("/api/v1/runs", params={"flow": flow_id}).json()["items"]
    assert [item["id"] for item in listed] == [run["id"]]
    assert api.get("/api/v1/runs", params={"state": "bogus"}).status_code == 400


def test_diamond_passes_dataframes_end_to_end(api) -> None:
    source = (
        "import pandas as pd\n"
        "result = pd.DataFrame({'id': [1, 2, 3, 4], 'amount': [5, 15, 25, 35], 'country': ['KR', 'US', 'KR', 'KR']})"
    )
    flow = {
        "id": unique("diamond"),
        "name": "diamond",
        "nodes": [
            {"id": "src", "type": "python", "config": {"code": source}},
            {
                "id": "korea",
                "type": "transform.filter",
                "inputs": {"table": "src.result"},
                "config": {"conditions": [{"column": "country", "operator": "eq", "value": "KR"}]},
            },
            {
                "id": "amounts",
                "type": "transform.select",
                "inputs": {"table": "src.result"},
                "config": {"columns": ["id", "amount"]},
            },
            {
                "id": "joined",
                "type": "transform.join",
                "inputs": {"left": "korea.table", "right": "amounts.table"},
                "config": {"on": ["id"], "how": "inner"},
            },
            {
                "id": "total",
                "type": "python",
                "inputs": {"rows": "joined.table"},
                "config": {
                    "code": "result = {'rows': len(inputs['rows']), 'sum': int(inputs['rows']['amount_right'].sum())}"
                },
            },
        ],
    }
    run = wait_run(api, start(api, save(api, flow)))
    tasks = tasks_of(run)
    assert run["state"] == "succeeded", {k: (t["state"], t["error"]) for k, t in tasks.items()}
    assert tasks["joined"]["outputs"]["table"]["rows"] == 3
    assert {c["name"] for c in tasks["joined"]["outputs"]["table"]["columns"]} >= {"id", "country"}
    assert tasks["total"]["outputs"]["result"]["value"] == {"rows": 3, "sum": 65}


def test_retries_with_backoff_until_success(api, world) -> None:
    key = unique("flaky")
    flow = {
        "id": unique(),
        "name": "flaky",
        "nodes": [http_node("call", f"{world.url}/flaky/{key}?fails=2", retries=3, retry_backoff_s=0.2)],
    }
    run = wait_run(api, start(api, save(api, flow)))
    task = tasks_of(run)["call"]
    assert run["state"] == "succeeded" and task["attempts"] == 3
    assert [h["state"] for h in task["history"]].count("retrying") == 2


def test_timeout_fails_the_task_and_downstream_is_upstream_failed(api, world) -> None:
    flow = {
        "id": unique(),
        "name": "slow",
        "nodes": [http_node("slow", f"{world.url}/slow?s=8", timeout_s=1), {"id": "after", "type": "noop"}],
        "edges": [{"from": "slow", "to": "after"}],
    }
    run = wait_run(api, start(api, save(api, flow)))
    tasks = tasks_of(run)
    assert run["state"] == "failed"
    assert tasks["slow"]["state"] == "failed" and tasks["slow"]["error"]["type"] == "Timeout"
    assert tasks["after"]["state"] == "upstream_failed"


def test_a_raising_node_logs_its_error_and_fails_the_run(api) -> None:
    flow = {
        "id": unique(),
        "name": "raises",
        "nodes": [
            {
                "id": "boom",
                "type": "python",
                "config": {"code": "x = 1\nprint('about to fail')\nraise ValueError('boom at ' + str(x))"},
            },
            {"id": "next", "type": "noop", "inputs": {"v": "boom.result"}},
            {"id": "other", "type": "noop"},
        ],
    }
    run = wait_run(api, start(api, save(api, flow)))
    tasks = tasks_of(run)
    assert run["state"] == "failed"
    assert tasks["boom"]["state"] == "failed" and "boom at 1" in tasks["boom"]["error"]["message"]
    assert tasks["next"]["state"] == "upstream_failed"
    assert tasks["other"]["state"] == "succeeded"
    logs = api.get(f"/api/v1/runs/{run['id']}/tasks/boom/logs").json()
    assert any("boom at 1" in line for line in logs["lines"])
    assert any(line.endswith("INFO about to fail") for line in logs["lines"])  # what it printed
    text = api.get(f"/api/v1/runs/{run['id']}/tasks/boom/logs", params={"format": "text"})
    assert text.headers["content-type"].startswith("text/plain") and "boom at 1" in text.text
    assert api.get(f"/api/v1/runs/{run['id']}/tasks/ghost/logs").status_code == 404


def test_a_handed_off_task_shows_its_own_log(api) -> None:
    # "second" is claimed by the final record of "first" (a handoff): its log is its own, not its upstream's.
    flow = {
        "id": unique(),
        "name": "handoff-logs",
        "nodes": [
            {"id": "first", "type": "python", "config": {"code": "print('first speaks')\nresult = 2"}},
            {
                "id": "second",
                "type": "python",
                "config": {"code": "print('second speaks', inputs['v'])\nresult = inputs['v'] + 1"},
                "inputs": {"v": "first.result"},
            },
        ],
    }
    run = wait_run(api, start(api, save(api, flow)))
    tasks = tasks_of(run)
    assert run["state"] == "succeeded" and tasks["second"]["attempts"] == 1
    ran = {node: [h for h in tasks[node]["history"] if h["state"] == "running"] for node in ("first", "second")}
    assert len(ran["second"]) == 1 and ran["second"][0]["executor"] == ran["first"][0]["executor"]
    ready = [h for h in tasks["second"]["history"] if h["state"] == "ready"]
    assert [h["at"] for h in ready] == [ran["second"][0]["at"]]  # decided and claimed by one record
    first = api.get(f"/api/v1/runs/{run['id']}/tasks/first/logs").json()["lines"]
    second = api.get(f"/api/v1/runs/{run['id']}/tasks/second/logs").json()["lines"]
    assert any(line.endswith("INFO first speaks") for line in first)
    assert any(line.endswith("INFO second speaks 2") for line in second)
    assert not any("first speaks" in line for line in second)


def test_cancel_reaches_a_running_task(api, world) -> None:
    flow = {
        "id": unique(),
        "name": "cancel",
        "nodes": [http_node("slow", f"{world.url}/slow?s=20"), {"id": "after", "type": "noop"}],
        "edges": [{"from": "slow", "to": "after"}],
    }
    run_id = start(api, save(api, flow))
    wait_until(
        lambda: tasks_of(api.get(f"/api/v1/runs/{run_id}").json())["slow"]["state"] == "running",
        timeout=30,
        message="the slow task to run",
    )
    canceled = api.post(f"/api/v1/runs/{run_id}/cancel")
    assert canceled.status_code == 200, canceled.text
    run = wait_run(api, run_id, timeout=15)
    assert run["state"] == "canceled"
    assert {t["state"] for t in run["tasks"]} == {"canceled"}
    assert api.post(f"/api/v1/runs/{run_id}/cancel").status_code == 409


def test_retry_from_failed_reuses_succeeded_outputs(api, world) -> None:
    gate = f"/gate/{unique()}"
    flow = {
        "id": unique(),
        "name": "retry",
        "nodes": [
            {"id": "first", "type": "python", "config": {"code": "result = 41"}},
            http_node("gate", f"{world.url}{gate}"),
            {
                "id": "last",
                "type": "python",
                "inputs": {"x": "first.result"},
                "config": {"code": "result = inputs['x'] + 1"},
            },
        ],
        "edges": [{"from": "first", "to": "gate"}, {"from": "gate", "to": "last"}],
    }
    run_id = start(api, save(api, flow))
    failed = wait_run(api, run_id)
    assert failed["state"] == "failed" and tasks_of(failed)["last"]["state"] == "upstream_failed"
    assert api.post(f"/api/v1/runs/{run_id}/retry").status_code == 200
    world.open_gates.add(gate)
    wait_until(lambda: api.get(f"/api/v1/runs/{run_id}").json()["attempt"] == 2, timeout=10, message="retry")
    run = wait_run(api, run_id)
    tasks = tasks_of(run)
    assert run["state"] == "succeeded" and run["attempt"] == 2
    assert tasks["first"]["attempts"] == 1  # reused, not run again
    assert tasks["gate"]["attempts"] == 2
    assert tasks["last"]["outputs"]["result"]["value"] == 42
    assert api.post(f"/api/v1/runs/{run_id}/retry").status_code == 409


def test_branch_skips_the_untaken_side_and_the_join_still_runs(api) -> None:
    flow = {
        "id": unique(),
        "name": "branch",
        "nodes": [
            {"id": "src", "type": "python", "config": {"code": "result = {'n': 5}"}},
            {
                "id": "check",
                "type": "branch",
                "inputs": {"value": "src.result"},
                "config": {"path": "n", "operator": "gt", "value": 3},
            },
            {"id": "big", "type": "noop", "inputs": {"v": "check.true"}},
            {"id": "small", "type": "noop", "inputs": {"v": "check.false"}},
            {"id": "after_small", "type": "noop", "inputs": {"v": "small.v"}},
            {"id": "join", "type": "noop", "inputs": {"a": "big.v", "b": "small.v"}},
        ],
    }
    run = wait_run(api, start(api, save(api, flow)))
    states = {node: task["state"] for node, task in tasks_of(run).items()}
    assert run["state"] == "succeeded", states
    assert states == {
        "src": "succeeded",
        "check": "succeeded",
        "big": "succeeded",
        "small": "skipped",
        "after_small": "skipped",
        "join": "succeeded",
    }
    assert run["task_counts"] == {"succeeded": 4, "skipped": 2}


def test_params_cache_and_pinned_versions(api) -> None:
    flow_id = unique()
    flow = {
        "id": flow_id,
        "name": "params",
        "params": {"n": {"type": "integer", "default": 2}},
        "nodes": [
            {
                "id": "double",
                "type": "python",
                "inputs": {"n": "params.n"},
                "cache": True,
                "config": {"code": "result = inputs['n'] * 2"},
            }
        ],
    }
    save(api, flow)
    first = wait_run(api, start(api, flow_id, params={"n": "21"}))
    assert tasks_of(first)["double"]["outputs"]["result"]["value"] == 42
    second = wait_run(api, start(api, flow_id, params={"n": 21}))
    assert tasks_of(second)["double"]["cached"] is True
    assert tasks_of(second)["double"]["outputs"]["result"]["value"] == 42

    bad = api.post(f"/api/v1/flows/{flow_id}/runs", json={"params": {"n": "many", "extra": 1}})
    assert bad.status_code == 422
    assert {e["field"] for e in bad.json()["error"]["details"]["errors"]} == {"params.n", "params.extra"}

    flow["nodes"].append({"id": "more", "type": "noop"})
    assert api.put(f"/api/v1/flows/{flow_id}", json=flow).json()["version"] == 2
    pinned = wait_run(api, start(api, flow_id, version=1))
    assert pinned["version"] == 1 and set(tasks_of(pinned)) == {"double"}
    assert api.post(f"/api/v1/flows/{flow_id}/runs", json={"version": 7}).status_code == 404


def test_a_flow_deleted_and_created_again_runs_its_new_definition(api) -> None:
    # The API keeps the flow versions it wrote or read (they never change), so a flow saved again under the
    # same id, starting over at version 1, must not run the old version 1.
    flow_id = unique("again")
    save(api, {"id": flow_id, "name": "first", "nodes": [{"id": "old", "type": "noop"}]})
    assert set(tasks_of(wait_run(api, start(api, flow_id)))) == {"old"}
    assert api.delete(f"/api/v1/flows/{flow_id}").status_code == 200
    save(api, {"id": flow_id, "name": "second", "nodes": [{"id": "new", "type": "noop"}]})
    run = wait_run(api, start(api, flow_id))
    assert run["state"] == "succeeded" and run["version"] == 1 and set(tasks_of(run)) == {"new"}
    assert api.get(f"/api/v1/flows/{flow_id}/versions/1").json()["definition"]["nodes"][0]["id"] == "new"


def test_delete_with_active_runs_needs_force(api, world) -> None:
    flow_id = save(api, {"id": unique(), "name": "busy", "nodes": [http_node("slow", f"{world.url}/slow?s=20")]})
    run_id = start(api, flow_id)
    refused = api.delete(f"/api/v1/flows/{flow_id}")
    assert refused.status_code == 409 and refused.json()["error"]["details"]["active_runs"] == [run_id]
    forced = api.delete(f"/api/v1/flows/{flow_id}", params={"force": "true"})
    assert forced.status_code == 200 and forced.json()["canceled_runs"] == [run_id]
    assert wait_run(api, run_id, timeout=15)["state"] == "canceled"
    assert api.get(f"/api/v1/flows/{flow_id}").status_code == 404


def test_backfill_respects_the_concurrency_limit(api, world) -> None:
    flow_id = save(
        api,
        {
            "id": unique(),
            "name": "backfill",
            "concurrency": 1,
            "params": {"scheduled_time": {"type": "datetime"}},
            "triggers": [{"type": "cron", "cron": "0 * * * *"}],
            "nodes": [http_node("work", f"{world.url}/slow?s=0.5")],
        },
    )
    start_at = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
    response = api.post(
        f"/api/v1/flows/{flow_id}/backfill",
        json={"start": start_at.isoformat(), "end": (start_at + timedelta(hours=2)).isoformat()},
    )
    assert response.status_code == 201, response.text
    run_ids = response.json()["run_ids"]
    assert len(run_ids) == 3
    most_running = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        states = [api.get(f"/api/v1/runs/{run_id}").json()["state"] for run_id in run_ids]
        most_running = max(most_running, states.count("running"))
        if all(state in TERMINAL for state in states):
            break
        time.sleep(0.1)
    assert states == ["succeeded"] * 3
    assert most_running == 1
    times = sorted(api.get(f"/api/v1/runs/{run_id}").json()["params"]["scheduled_time"] for run_id in run_ids)
    assert times[0].startswith("2026-01-01T00:00:00") and times[2].startswith("2026-01-01T02:00:00")
    no_cron = save(api, {"id": unique(), "name": "nocron", "nodes": [{"id": "a", "type": "noop"}]})
    assert (
        api.post(
            f"/api/v1/flows/{no_cron}/backfill", json={"start": start_at.isoformat(), "end": start_at.isoformat()}
        ).status_code
        == 422
    )


def read_events(platform, run_id: str, last_event_id: str | None = None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {platform.token()}"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    events: list[dict[str, Any]] = []
    url = f"{platform.url('flow_automation')}/api/v1/runs/{run_id}/events"
    with httpx.stream("GET", url, headers=headers, timeout=60) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        current: dict[str, Any] = {}
        for line in response.iter_lines():
            if line.startswith("id: "):
                current["id"] = line[4:]
            elif line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and "data" in current:
                events.append(current)
                current = {}
    return events


def test_sse_streams_every_state_change_in_order_and_resumes(api, platform) -> None:
    flow_id = save(
        api,
        {
            "id": unique(),
            "name": "sse",
            "nodes": [{"id": "a", "type": "noop"}, {"id": "b", "type": "noop"}, {"id": "c", "type": "noop"}],
            "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "c"}],
        },
    )
    run_id = start(api, flow_id)
    events = read_events(platform, run_id)
    offsets = [int(event["id"]) for event in events]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    run_states = [e["data"]["state"] for e in events if e["event"] == "run"]
    assert run_states == ["queued", "running", "succeeded"]
    assert events[-1]["data"]["state"] == "succeeded"
    for node in "abc":
        states = [e["data"]["state"] for e in events if e["event"] == "task" and e["data"]["node_id"] == node]
        assert states == ["ready", "running", "succeeded"], (node, states)
    position = {(e["data"].get("node_id"), e["data"]["state"]): i for i, e in enumerate(events)}
    assert position[("a", "succeeded")] < position[("b", "ready")]
    assert position[("a", "succeeded")] < position[("c", "ready")]

    resumed = read_events(platform, run_id, last_event_id=events[3]["id"])
    assert [e["id"] for e in resumed] == [e["id"] for e in events[4:]]
    bad = api.get(f"/api/v1/runs/{run_id}/events", headers={"Last-Event-ID": "nope"})
    assert bad.status_code == 400
    assert api.get("/api/v1/runs/does-not-exist/events").status_code == 404


@pytest.mark.parametrize("claimed_by", ["queue", "handoff"])
def test_an_executor_killed_mid_task_is_replaced_by_another(api, platform, world, claimed_by) -> None:
    # "queue": the slow task is a root, claimed from the queue. "handoff": it follows a task and is claimed by
    # that task's final record, so no claim record of its own says who runs it.
    nodes = [http_node("slow", f"{world.url}/slow?s=3"), {"id": "after", "type": "noop"}]
    edges = [{"from": "slow", "to": "after"}]
    if claimed_by == "handoff":
        nodes.append({"id": "before", "type": "noop"})
        edges.append({"from": "before", "to": "slow"})
    flow_id = save(api, {"id": unique(), "name": "kill", "nodes": nodes, "edges": edges})
    run_id = start(api, flow_id)

    def owner() -> str | None:
        task = tasks_of(api.get(f"/api/v1/runs/{run_id}").json())["slow"]
        running = [h for h in task["history"] if h["state"] == "running"]
        return running[-1]["executor"] if task["state"] == "running" and running else None

    lease_owner = wait_until(owner, timeout=30, message="the slow task to be claimed")
    pid = int(lease_owner.split("-")[-2])
    running = [service for name, service in platform.services.items() if name.startswith("executor")]
    assert pid in {service.process.pid for service in running if service.process.poll() is None}
    os.kill(pid, signal.SIGKILL)
    run = wait_run(api, run_id, timeout=60)
    task = tasks_of(run)["slow"]
    assert run["state"] == "succeeded"
    assert task["attempts"] == 2
    assert any(h.get("reason", "").startswith("lease expired") for h in task["history"])
    if claimed_by == "handoff":
        ready = [h for h in task["history"] if h["state"] == "ready" and "reason" not in h]
        first_run = next(h for h in task["history"] if h["state"] == "running")
        assert [h["at"] for h in ready] == [first_run["at"]]  # the killed attempt was a handoff
    platform.start_executor()  # later tests keep two executors


def test_subflow_runs_a_child_flow_and_returns_its_output(api) -> None:
    child = save(
        api,
        {
            "id": unique("child"),
            "name": "child",
            "params": {"n": {"type": "integer", "default": 1}},
            "nodes": [
                {
                    "id": "square",
                    "type": "python",
                    "inputs": {"n": "params.n"},
                    "config": {"code": "result = inputs['n'] ** 2"},
                }
            ],
        },
    )
    parent = save(
        api,
        {
            "id": unique("parent"),
            "name": "parent",
            "nodes": [
                {"id": "seven", "type": "python", "config": {"code": "result = 7"}},
                {
                    "id": "call",
                    "type": "subflow",
                    "inputs": {"n": "seven.result"},
                    "config": {"flow": child, "output": "square.result"},
                },
            ],
        },
    )
    run = wait_run(api, start(api, parent))
    assert run["state"] == "succeeded", tasks_of(run)
    assert tasks_of(run)["call"]["outputs"]["result"]["value"] == 49
    children = api.get("/api/v1/runs", params={"flow": child}).json()["items"]
    assert len(children) == 1 and children[0]["parent"]["run_id"] == run["id"]


def test_large_tables_travel_through_the_artifact_store(api, platform) -> None:
    code = (
        "import pandas as pd\n"
        "result = pd.DataFrame({'i': list(range(60000)), 's': ['row %d' % i for i in range(60000)]})"
    )
    flow_id = save(
        api,
        {
            "id": unique("big"),
            "name": "big",
            "nodes": [
                {"id": "make", "type": "python", "config": {"code": code}, "timeout_s": 60},
                {
                    "id": "keep",
                    "type": "transform.filter",
                    "inputs": {"table": "make.result"},
                    "config": {"conditions": [{"column": "i", "operator": "ge", "value": 59990}]},
                },
            ],
        },
    )
    run = wait_run(api, start(api, flow_id), timeout=120)
    tasks = tasks_of(run)
    assert run["state"] == "succeeded", {k: t["error"] for k, t in tasks.items()}
    assert tasks["make"]["outputs"]["result"]["rows"] == 60000
    assert tasks["keep"]["outputs"]["table"]["rows"] == 10
    stored = platform.mongo_db()[f"journal.{run['id']}"].find_one({"_id": "final:make:1"})
    assert "uri" in stored["outputs"]["result"]  # too big to keep inline
    assert (platform.state_dir / "artifacts" / stored["outputs"]["result"]["uri"]).is_file()


def test_a_run_whose_starter_died_is_started_by_another(api, platform, world) -> None:
    flow_id = save(
        api,
        {
            "id": unique("starter"),
            "name": "starter",
            "concurrency": 1,
            "nodes": [http_node("work", f"{world.url}/slow?s=2")],
        },
    )
    first = start(api, flow_id)
    second = start(api, flow_id)
    assert api.get(f"/api/v1/runs/{second}").json()["state"] == "queued"
    # A process won the right to start the queued run, then died before starting it.
    platform.mongo_db()[f"journal.{second}"].insert_one(
        {"_id": "start:1", "kind": "guard", "at": datetime.now(UTC) - timedelta(minutes=5)}
    )
    assert wait_run(api, first)["state"] == "succeeded"
    assert wait_run(api, second)["state"] == "succeeded"


def crashed_run(
    api, platform, nodes: list[dict[str, Any]], edges: list[dict[str, str]], records: list[tuple[str, dict[str, Any]]]
) -> str:
    """A run as a process that died mid-step leaves it: its document and journal written by hand.

    ``records`` as :func:`write_running_run` takes them.
    """
    flow_id = save(api, {"id": unique("crash"), "name": "crash", "nodes": nodes, "edges": edges})
    definition = api.get(f"/api/v1/flows/{flow_id}/versions/1").json()["definition"]
    return write_running_run(platform.mongo_db(), flow_id, definition, records)


ONE_NODE = [{"id": "only", "type": "noop"}]


def test_a_decision_left_by_a_dead_process_is_finished_by_healing(api, platform) -> None:
    # "a" ended, and its executor died before deciding "b".
    run_id = crashed_run(
        api,
        platform,
        [{"id": "a", "type": "noop"}, {"id": "b", "type": "noop"}],
        [{"from": "a", "to": "b"}],
        [
            ("ready:a:1", {"node": "a", "epoch": 1}),
            ("claim:a:1", {"node": "a", "epoch": 1, "attempt": 1, "executor": "gone"}),
            (
                "final:a:1",
                {"node": "a", "epoch": 1, "attempt": 1, "state": "succeeded", "output_keys": [], "outputs": {}},
            ),
        ],
    )
    run = wait_run(api, run_id, timeout=60)
    assert run["state"] == "succeeded", tasks_of(run)
    assert tasks_of(run)["b"]["attempts"] == 1


def test_an_attempt_held_by_a_vanished_executor_is_taken_over(api, platform) -> None:
    run_id = crashed_run(
        api,
        platform,
        ONE_NODE,
        [],
        [
            ("ready:only:1", {"node": "only", "epoch": 1}),
            ("claim:only:1", {"node": "only", "epoch": 1, "attempt": 1, "executor": "gone"}),
        ],
    )
    run = wait_run(api, run_id, timeout=60)
    task = tasks_of(run)["only"]
    assert run["state"] == "succeeded" and task["attempts"] == 2
    assert any(h.get("reason", "").startswith("lease expired: executor gone") for h in task["history"])


def test_a_run_whose_closer_died_is_closed_by_healing(api, platform) -> None:
    run_id = crashed_run(
        api,
        platform,
        ONE_NODE,
        [],
        [
            ("claim:only:1", {"node": "only", "epoch": 1, "attempt": 1, "executor": "gone"}),
            ("final:only:1", {"node": "only", "epoch": 1, "state": "failed"}),
            ("end:1", {"state": "failed", "task_counts": {"failed": 1}}),
        ],
    )
    run = wait_run(api, run_id, timeout=60)
    assert run["state"] == "failed" and run["task_counts"] == {"failed": 1}


def test_a_ready_task_never_queued_is_queued_by_healing(api, platform) -> None:
    # The process that made "only" ready died before putting it on the queue.
    run_id = crashed_run(api, platform, ONE_NODE, [], [("ready:only:1", {"node": "only", "epoch": 1})])
    run = wait_run(api, run_id, timeout=60)
    assert run["state"] == "succeeded" and tasks_of(run)["only"]["attempts"] == 1


def test_runs_purge_deletes_old_runs_with_their_journals(api, platform) -> None:
    flow_id = save(api, {"id": unique("purge"), "name": "purge", "nodes": [{"id": "a", "type": "noop"}]})
    old, recent = wait_run(api, start(api, flow_id)), wait_run(api, start(api, flow_id))
    db = platform.mongo_db()
    db.runs.update_one({"_id": old["id"]}, {"$set": {"finished_at": datetime.now(UTC) - timedelta(days=40)}})

    def purge(*extra: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flow_automation.cli", "runs", "purge", "--older-than", "30", *extra],
            env=platform.env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert purge("--dry-run").startswith("would delete 1 run(s)")
    assert api.get(f"/api/v1/runs/{old['id']}").status_code == 200
    assert purge().startswith("deleted 1 run(s)")
    assert api.get(f"/api/v1/runs/{old['id']}").status_code == 404
    assert f"journal.{old['id']}" not in db.list_collection_names()
    assert api.get(f"/api/v1/runs/{recent['id']}").json()["state"] == "succeeded"
