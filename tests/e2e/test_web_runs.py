"""The Runs screens in a real browser: start a run with params, watch it live, logs, outputs, timeline, cancel, retry.

The flows run on the real platform with a real executor. A small HTTP server
in the test process plays the outside world for ``http.request`` nodes: a
hold the test releases (so the browser is provably watching while the run is
still going), a slow endpoint to cancel, and a gate that fails until opened
(to retry from failed). The window gets a marker before a run moves on and
must still have it afterwards: every change the test waits for came in over
the run's event stream, not by loading the page again.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import WebPlatform, sign_in, unique_name
from tests.integration.fixtures.platform import ServiceProcess

pytestmark = pytest.mark.integration

LAPTOP = {"width": 1366, "height": 768}
RUN_TIMEOUT_MS = 90_000


class Outside:
    """``/hold/<key>`` answers once released, ``/slow`` after a while, ``/gate/<key>`` 500 until opened."""

    def __init__(self) -> None:
        self.released: dict[str, threading.Event] = {}
        self.open_gates: set[str] = set()
        self.stopping = threading.Event()
        outside = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.partition("?")[0]
                if path.startswith("/hold/"):
                    outside.hold(path).wait(timeout=60)
                    self._answer(200, {"held": path})
                elif path.startswith("/slow"):
                    outside.stopping.wait(timeout=45)
                    self._answer(200, {"slow": True})
                elif path.startswith("/gate/"):
                    opened = path in outside.open_gates
                    self._answer(200 if opened else 500, {"gate": "open" if opened else "closed"})
                else:
                    self._answer(404, {"error": "unknown path"})

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the caller gave up (a canceled task)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def hold(self, path: str) -> threading.Event:
        return self.released.setdefault(path, threading.Event())

    def close(self) -> None:
        self.stopping.set()
        for event in self.released.values():
            event.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def outside() -> Iterator[Outside]:
    world = Outside()
    yield world
    world.close()


@pytest.fixture(scope="module")
def executor(web: WebPlatform) -> ServiceProcess:
    """A running executor: the platform's own when another test started one, else a new one."""
    for name, service in web.platform.services.items():
        if name.startswith("executor") and service.process.poll() is None:
            return service
    return web.platform.start_executor()


@pytest.fixture
def laptop(page: Page) -> Page:
    page.set_viewport_size(LAPTOP)
    return page


def create_flow(web: WebPlatform, flow: dict[str, Any]) -> str:
    with web.api() as api:
        response = api.post("/api/v1/flows", json=flow)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def start_run(web: WebPlatform, flow_id: str, params: dict[str, Any] | None = None) -> str:
    with web.api() as api:
        response = api.post(f"/api/v1/flows/{flow_id}/runs", json={"params": params or {}})
    assert response.status_code == 201, response.text
    return response.json()["run_id"]


def node(page: Page, node_id: str):
    return page.get_by_test_id(f"run-node-{node_id}")


def mark_window(page: Page) -> None:
    page.evaluate("() => { window.__runsMarker = 'still the same page'; }")


def assert_same_window(page: Page) -> None:
    assert page.evaluate("() => window.__runsMarker") == "still the same page", "the page was loaded again"


def events_applied(page: Page) -> int:
    return int(page.get_by_test_id("run-canvas").get_attribute("data-events") or "0")


def test_start_a_run_with_params_and_watch_it_live_with_logs_outputs_and_timeline(
    laptop: Page, web: WebPlatform, outside: Outside, executor: ServiceProcess, screenshot: Callable[[Page, str], Path]
) -> None:
    page = laptop
    hold = f"/hold/{secrets.token_hex(4)}"
    name = unique_name("Orders live")
    flow_id = create_flow(
        web,
        {
            "name": name,
            "params": {
                "rows": {"type": "integer", "default": 15, "description": "how many orders"},
                "label": {"type": "string", "required": True},
            },
            "nodes": [
                {
                    "id": "extract",
                    "type": "python",
                    "inputs": {"n": "params.rows", "label": "params.label"},
                    "config": {
                        "code": (
                            "import pandas as pd\n"
                            "print('extracting', inputs['n'], 'orders for', inputs['label'])\n"
                            "result = pd.DataFrame({'order_id': list(range(1, inputs['n'] + 1)),"
                            " 'label': [inputs['label']] * inputs['n']})\n"
                        )
                    },
                },
                {
                    "id": "wait_for_bank",
                    "type": "http.request",
                    "config": {"url": f"{outside.url}{hold}", "request_timeout_s": 80},
                    "timeout_s": 90,
                },
                {
                    "id": "summary",
                    "type": "python",
                    "inputs": {"orders": "extract.result"},
                    "config": {
                        "code": "result = {'orders': len(inputs['orders']), 'label': inputs['orders']['label'][0]}"
                    },
                },
            ],
            "edges": [{"from": "extract", "to": "wait_for_bank"}, {"from": "wait_for_bank", "to": "summary"}],
        },
    )

    sign_in(page, web, "editor", "/runs")
    page.get_by_role("button", name="Start a run").click()
    page.get_by_label("Search flows").fill(flow_id)
    page.get_by_role("button", name=re.compile(re.escape(name))).click()
    expect(page.get_by_role("heading", name=f"Start a run of {name}")).to_be_visible()
    expect(page.locator("#param-rows")).to_have_value("15")
    screenshot(page, "run-start")

    # what the form refuses itself, then what only the server knows
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_test_id("param-label")).to_contain_text("required")
    page.locator("#param-rows").fill("many")
    page.locator("#param-label").fill("nightly")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_test_id("param-rows")).to_contain_text("must be a whole number")
    page.locator("#param-rows").fill("15")
    page.get_by_label("Version").fill("99")
    page.get_by_role("button", name="Start run").click()
    with web.api() as api:
        server_says = api.post(f"/api/v1/flows/{flow_id}/runs", json={"params": {"label": "x"}, "version": 99})
    assert server_says.status_code == 404
    expect(page.get_by_role("alert")).to_contain_text(server_says.json()["error"]["message"])
    page.get_by_label("Version").fill("")
    page.get_by_role("button", name="Start run").click()

    page.wait_for_url(re.compile(rf"{re.escape(web.url)}/runs/[^/?]+$"))
    run_id = page.url.rsplit("/", 1)[1]
    with web.api() as api:
        assert api.get(f"/api/v1/runs/{run_id}").json()["params"] == {"rows": 15, "label": "nightly"}

    # the run waits on the hold: the page is watching while it is still going
    expect(node(page, "wait_for_bank")).to_have_attribute("data-state", "running", timeout=RUN_TIMEOUT_MS)
    expect(node(page, "summary")).to_have_attribute("data-state", "pending")
    expect(node(page, "extract")).to_have_attribute("data-state", "succeeded")
    expect(page.get_by_test_id("stream-status")).to_have_attribute("data-status", "open")
    expect(page.get_by_test_id("run-state")).to_have_attribute("data-state", "running")
    mark_window(page)
    before = events_applied(page)
    screenshot(page, "run-live")

    outside.hold(hold).set()
    for node_id in ("extract", "wait_for_bank", "summary"):
        expect(node(page, node_id)).to_have_attribute("data-state", "succeeded", timeout=RUN_TIMEOUT_MS)
        expect(node(page, node_id)).to_have_attribute("data-attempts", "1")
    expect(page.get_by_test_id("run-state")).to_have_attribute("data-state", "succeeded")
    expect(page.get_by_test_id("stream-status")).to_have_attribute("data-status", "ended")
    assert_same_window(page)
    assert events_applied(page) >= before + 4, "the last two tasks and the run moved on by their events"
    expect(node(page, "summary")).to_contain_text("attempt 1")
    expect(node(page, "summary")).to_contain_text(re.compile(r"\d+(\.\d+)? (ms|s)"))

    # the timeline has a bar per task, in the order they ran
    for node_id in ("extract", "wait_for_bank", "summary"):
        expect(page.get_by_test_id(f"gantt-bar-{node_id}")).to_have_attribute("data-state", "succeeded")
    rows = page.get_by_test_id("gantt").locator(".gantt-row .gantt-label")
    expect(rows).to_have_text(["extract", "wait_for_bank", "summary"])
    screenshot(page, "run-succeeded")

    # the first task: what it printed, and its table as a paged grid
    node(page, "extract").click()
    panel = page.get_by_test_id("task-panel")
    expect(panel).to_have_attribute("data-node", "extract")
    expect(panel.get_by_test_id("task-printed")).to_contain_text("extracting 15 orders for nightly")
    panel.get_by_role("tab", name=re.compile("Output")).click()
    table = panel.get_by_test_id("output-table-result")
    expect(table.get_by_test_id("output-table-result-range")).to_have_text("Rows 1\u201310 of 15")
    expect(table.locator("tbody tr")).to_have_count(10)
    expect(table.locator("thead")).to_contain_text("order_id")
    expect(table.locator("thead")).to_contain_text("int64")
    table.get_by_role("button", name="Next rows").click()
    expect(table.get_by_test_id("output-table-result-range")).to_have_text("Rows 11\u201315 of 15")
    expect(table.locator("tbody tr").first).to_contain_text("11")
    expect(table.locator("tbody tr").first).to_contain_text("nightly")
    expect(panel.get_by_test_id("output-text-stdout")).to_contain_text("extracting 15 orders")
    screenshot(page, "run-task-output")

    # the last one: its JSON result, picked on the timeline
    page.get_by_test_id("gantt-row-summary").click()
    expect(panel).to_have_attribute("data-node", "summary")
    panel.get_by_role("tab", name=re.compile("Output")).click()
    result = json.loads(panel.get_by_test_id("output-json-result").inner_text())
    assert result == {"orders": 15, "label": "nightly"}

    # history: the run in its flow's list, filters by state
    page.get_by_role("link", name=name).click()
    page.wait_for_url(re.compile(re.escape(f"{web.url}/runs?flow={flow_id}") + "$"))
    row = page.locator(f"tr[data-run-id='{run_id}']")
    expect(row.locator(".run-state-badge")).to_have_attribute("data-state", "succeeded")
    expect(row).to_contain_text(flow_id)
    expect(row).to_contain_text("3 succeeded")
    screenshot(page, "runs-history")
    page.get_by_label("Filter by state").select_option("failed")
    expect(page.get_by_text("No run matches these filters.")).to_be_visible()
    page.get_by_label("Filter by state").select_option("succeeded")
    expect(page.locator(f"tr[data-run-id='{run_id}']")).to_be_visible()
    page.locator(f"tr[data-run-id='{run_id}']").get_by_role("link", name=run_id).click()
    expect(page.get_by_test_id("run-detail")).to_have_attribute("data-run-id", run_id)


def test_cancel_a_slow_run_and_retry_a_failed_one(
    laptop: Page, web: WebPlatform, outside: Outside, executor: ServiceProcess, screenshot: Callable[[Page, str], Path]
) -> None:
    page = laptop
    slow_flow = create_flow(
        web,
        {
            "name": unique_name("Slow export"),
            "nodes": [
                {"id": "slow", "type": "http.request", "config": {"url": f"{outside.url}/slow"}, "timeout_s": 60},
                {"id": "after", "type": "noop"},
            ],
            "edges": [{"from": "slow", "to": "after"}],
        },
    )
    slow_run = start_run(web, slow_flow)
    sign_in(page, web, "editor", f"/runs/{slow_run}")
    expect(node(page, "slow")).to_have_attribute("data-state", "running", timeout=RUN_TIMEOUT_MS)
    mark_window(page)
    page.get_by_role("button", name="Cancel run").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(slow_run)
    dialog.get_by_role("button", name="Cancel run").click()
    expect(dialog).to_have_count(0)
    expect(page.get_by_test_id("run-state")).to_have_attribute("data-state", "canceled", timeout=RUN_TIMEOUT_MS)
    expect(node(page, "slow")).to_have_attribute("data-state", "canceled")
    expect(node(page, "after")).to_have_attribute("data-state", "canceled")
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    assert_same_window(page)
    with web.api() as api:
        assert api.get(f"/api/v1/runs/{slow_run}").json()["state"] == "canceled"
    screenshot(page, "run-canceled")

    gate = f"/gate/{secrets.token_hex(4)}"
    gate_flow = create_flow(
        web,
        {
            "name": unique_name("Gated load"),
            "nodes": [
                {"id": "first", "type": "python", "config": {"code": "result = 41"}},
                {"id": "gate", "type": "http.request", "config": {"url": f"{outside.url}{gate}"}},
                {
                    "id": "last",
                    "type": "python",
                    "inputs": {"x": "first.result"},
                    "config": {"code": "result = inputs['x'] + 1"},
                },
            ],
            "edges": [{"from": "first", "to": "gate"}, {"from": "gate", "to": "last"}],
        },
    )
    failed_run = start_run(web, gate_flow)
    page.goto(f"{web.url}/runs/{failed_run}")
    expect(page.get_by_test_id("run-state")).to_have_attribute("data-state", "failed", timeout=RUN_TIMEOUT_MS)
    expect(node(page, "gate")).to_have_attribute("data-state", "failed")
    expect(node(page, "last")).to_have_attribute("data-state", "upstream_failed")

    node(page, "gate").click()
    panel = page.get_by_test_id("task-panel")
    expect(panel.get_by_test_id("task-error")).to_contain_text("answered 500")
    expect(panel.get_by_test_id("task-log-lines")).to_contain_text("ERROR")
    expect(panel.get_by_test_id("task-log-lines")).to_contain_text("answered 500")
    screenshot(page, "run-failed")

    outside.open_gates.add(gate)
    mark_window(page)
    page.get_by_role("button", name="Retry from failed").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("gate, last")
    dialog.get_by_role("button", name="Retry").click()
    expect(dialog).to_have_count(0)
    for node_id in ("first", "gate", "last"):
        expect(node(page, node_id)).to_have_attribute("data-state", "succeeded", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("run-state")).to_have_attribute("data-state", "succeeded")
    expect(node(page, "first")).to_have_attribute("data-attempts", "1")  # reused, not run again
    expect(node(page, "gate")).to_have_attribute("data-attempts", "2")
    expect(page.get_by_test_id("run-detail")).to_contain_text("attempt 2")
    assert_same_window(page)
    node(page, "last").click()
    panel.get_by_role("tab", name=re.compile("Output")).click()
    expect(panel.get_by_test_id("output-json-result")).to_have_text("42")
    screenshot(page, "run-retried")


def first_events_until(web: WebPlatform, run_id: str, done: Callable[[dict[str, Any]], bool]) -> list[tuple[str, str]]:
    """The run's first SSE events, as (id, raw text), up to the first one ``done`` accepts (read from the API)."""
    events: list[tuple[str, str]] = []
    block: list[str] = []
    with web.api() as api, api.stream("GET", f"/api/v1/runs/{run_id}/events", timeout=60) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if line:
                block.append(line)
                continue
            fields = dict(item.split(": ", 1) for item in block if not item.startswith(":") and ": " in item)
            block = []
            if "data" not in fields:
                continue
            events.append((fields["id"], "\n".join(f"{k}: {v}" for k, v in fields.items()) + "\n\n"))
            if done(json.loads(fields["data"])):
                return events
    raise AssertionError(f"the stream of {run_id} ended before the awaited event")


def test_the_live_view_resumes_after_a_dropped_connection_with_last_event_id(
    laptop: Page, web: WebPlatform, outside: Outside, executor: ServiceProcess, screenshot: Callable[[Page, str], Path]
) -> None:
    page = laptop
    hold = f"/hold/{secrets.token_hex(4)}"
    flow_id = create_flow(
        web,
        {
            "name": unique_name("Resumes"),
            "nodes": [
                {
                    "id": "wait",
                    "type": "http.request",
                    "config": {"url": f"{outside.url}{hold}", "request_timeout_s": 80},
                },
                {"id": "after", "type": "python", "config": {"code": "result = 'done'"}},
            ],
            "edges": [{"from": "wait", "to": "after"}],
        },
    )
    run_id = start_run(web, flow_id)
    # what the first connection delivers before it drops: the events up to the hold's start
    head = first_events_until(web, run_id, lambda e: e.get("node_id") == "wait" and e["state"] == "running")
    seen: list[str | None] = []

    def drop_the_first_connection(route: Any) -> None:
        seen.append(route.request.headers.get("last-event-id"))
        if len(seen) == 1:
            route.fulfill(
                status=200, headers={"Content-Type": "text/event-stream"}, body="".join(text for _, text in head)
            )
        else:
            route.continue_()

    page.route(re.compile(r".*/api/flow_automation/api/v1/runs/[^/]+/events$"), drop_the_first_connection)
    sign_in(page, web, "editor", f"/runs/{run_id}")
    expect(node(page, "wait")).to_have_attribute("data-state", "running", timeout=RUN_TIMEOUT_MS)
    deadline = time.monotonic() + 20
    while len(seen) < 2 and time.monotonic() < deadline:
        page.wait_for_timeout(100)  # lets Playwright dispatch the route handler of the reconnect
    assert seen == [None, head[-1][0]], "the second connection resumes after the last event the first one delivered"
    expect(page.get_by_test_id("stream-status")).to_have_attribute("data-status", "open")
    mark_window(page)
    outside.hold(hold).set()
    expect(node(page, "after")).to_have_attribute("data-state", "succeeded", timeout=RUN_TIMEOUT_MS)
    expect(page.get_by_test_id("run-state")).to_have_attribute("data-state", "succeeded")
    assert_same_window(page)
    assert len(seen) == 2, seen


def test_a_viewer_sees_runs_but_no_run_actions_and_errors_show_the_servers_message(
    laptop: Page, web: WebPlatform, executor: ServiceProcess
) -> None:
    page = laptop
    flow_id = create_flow(
        web,
        {
            "name": unique_name("Breaks"),
            "nodes": [
                {"id": "boom", "type": "python", "config": {"code": "x = 1\nraise ValueError('boom at ' + str(x))"}}
            ],
        },
    )
    run_id = start_run(web, flow_id)
    sign_in(page, web, "viewer", f"/runs/{run_id}")
    expect(page.get_by_test_id("run-state")).to_have_attribute("data-state", "failed", timeout=RUN_TIMEOUT_MS)
    for action in ("Cancel run", "Retry from failed", "Run again…"):
        expect(page.get_by_role("button", name=action)).to_have_count(0)
    node(page, "boom").click()
    expect(page.get_by_test_id("task-error")).to_contain_text("boom at 1")

    page.goto(f"{web.url}/runs")
    expect(page.get_by_role("heading", name="Runs")).to_be_visible()
    expect(page.locator(f"tr[data-run-id='{run_id}']")).to_be_visible()
    expect(page.get_by_role("button", name="Start a run")).to_have_count(0)

    page.goto(f"{web.url}/runs/no-such-run")
    with web.api() as api:
        message = api.get("/api/v1/runs/no-such-run").json()["error"]["message"]
    expect(page.get_by_role("alert")).to_contain_text(message)
