"""MongoDB goes away mid-run: the API answers 503, the executor backs off, and the run still finishes.

This test owns its FerretDB (the project's binary, on a free port, with its
own data directory), so killing it disturbs no other test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from pymongo import MongoClient

from tests.integration.fixtures.platform import free_port, running_platform, wait_until
from tests.integration.fixtures.servers import REPO
from tests.integration.test_runs import World

pytestmark = pytest.mark.integration


def ferretdb_binary() -> Path:
    state = Path(os.environ.get("DATAFLOW_STATE_DIR", ".dataflow"))
    return (state if state.is_absolute() else REPO / state) / "bin" / "ferretdb"


class OwnFerretDB:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                str(ferretdb_binary()),
                "--handler=sqlite",
                f"--sqlite-url=file:{self.data_dir}/",
                f"--listen-addr=127.0.0.1:{self.port}",
                f"--state-dir={self.data_dir}",
                f"--debug-addr=127.0.0.1:{free_port()}",
                "--telemetry=disable",
                "--log-level=error",
            ],
            env={**os.environ, "DO_NOT_TRACK": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def answers() -> bool:
            with MongoClient(self.url, serverSelectionTimeoutMS=500) as client:
                return client.admin.command("ping")["ok"] == 1.0

        wait_until(answers, timeout=30, message="the test's own FerretDB")

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


@pytest.fixture
def own_ferretdb(real_servers: None, tmp_path: Path) -> Iterator[OwnFerretDB]:
    server = OwnFerretDB(tmp_path / "ferretdb")
    server.start()
    yield server
    if server.process and server.process.poll() is None:
        server.kill()


def test_mongodb_outage_gives_503_and_loses_no_run(own_ferretdb: OwnFerretDB, tmp_path: Path) -> None:
    world = World()
    try:
        with running_platform(tmp_path / "platform", ("flow_automation",), mongo_url=own_ferretdb.url) as platform:
            platform.start_executor()
            client = platform.client("flow_automation")
            flow = {
                "id": "outage",
                "name": "outage",
                "nodes": [
                    {"id": "slow", "type": "http.request", "config": {"url": f"{world.url}/slow?s=3"}},
                    {"id": "after", "type": "noop"},
                ],
                "edges": [{"from": "slow", "to": "after"}],
            }
            assert client.post("/api/v1/flows", json=flow).status_code == 201
            run_id = client.post("/api/v1/flows/outage/runs", json={}).json()["run_id"]
            wait_until(lambda: world.calls["/slow"] >= 1, timeout=30, message="the slow task to start")

            own_ferretdb.kill()
            down = client.get("/api/v1/flows")
            assert down.status_code == 503, down.text
            assert down.json()["error"]["code"] == "unavailable"
            time.sleep(4)  # the slow task ends while MongoDB is away; its result cannot be stored

            own_ferretdb.start()
            wait_until(lambda: client.get("/api/v1/flows").status_code == 200, timeout=60, message="the API back")

            def finished() -> dict | None:
                run = client.get(f"/api/v1/runs/{run_id}").json()
                return run if run.get("state") in ("succeeded", "failed", "canceled") else None

            run = wait_until(finished, timeout=90, interval=0.5, message="the run to finish after the outage")
            assert run["state"] == "succeeded", run
            assert {task["node_id"]: task["state"] for task in run["tasks"]} == {
                "slow": "succeeded",
                "after": "succeeded",
            }
            again = client.post("/api/v1/flows/outage/runs", json={}).json()["run_id"]
            assert wait_until(lambda: finished_state(client, again), timeout=60, message="a new run") == "succeeded"
            client.close()
            problems = platform.unexpected_errors()
            assert not problems, problems
    finally:
        world.server.shutdown()
        world.server.server_close()


def finished_state(client: httpx.Client, run_id: str) -> str | None:
    state = client.get(f"/api/v1/runs/{run_id}").json().get("state")
    return state if state in ("succeeded", "failed", "canceled") else None
