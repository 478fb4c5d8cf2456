"""The operations screens in a real browser: cron jobs, stream pipelines and data connections.

Chromium (Debian's, through Playwright) drives flow_web against the whole
platform: ecron fires a real HTTP action at a small server in the test
process; a real stream worker (``python -m stream_pipeline.worker``) runs the
pipeline built in the browser over real Kafka topics; connections are tested
against a SQLite file and the test PostgreSQL. The browser fixtures (sign-in,
screenshots checked not to be blank) are the shared ones of ``tests/e2e``.
Every screen is used at 1366x768.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from stream_pipeline.sinks import SINK_TYPES
from stream_pipeline.steps import STEP_TYPES
from tests.e2e.conftest import WebPlatform, sign_in, unique_name
from tests.integration.fixtures.platform import wait_until
from tests.integration.test_stream_support import Workers, produce, read_json
from tests.local_http import JsonHandler, serve

pytestmark = pytest.mark.integration

LAPTOP = {"width": 1366, "height": 768}
POSTGRES_URL = "postgresql://dataflow:dataflow@127.0.0.1:5432/dataflow_test"
FLOW_TIMEOUT_MS = 60_000


class Receiver:
    """An HTTP endpoint for ecron's action: records every request it gets and answers 200 with JSON."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        received = self.requests

        class Handler(JsonHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                received.append({"path": self.path, "headers": dict(self.headers), "body": body.decode()})
                self.answer(200, {"received": len(received)})

        self.server, self.url = serve(Handler)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def laptop(page: Page) -> Page:
    page.set_viewport_size(LAPTOP)
    return page


def preview_times(page: Page) -> list[str]:
    return [item.get_attribute("title") or "" for item in page.get_by_test_id("fire-times").locator("li").all()]


def fits_width(page: Page) -> None:
    """Nothing on the screen is wider than a laptop's window (no horizontal scrolling)."""
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= LAPTOP["width"], f"the page is {width}px wide at {LAPTOP['width']}px"


# -- cron jobs --------------------------------------------------------------------------------------


def test_schedule_a_cron_job_with_live_preview_pause_resume_and_run_now(
    laptop: Page,
    web: WebPlatform,
    receiver: Receiver,
    screenshot: Callable[[Page, str], Path],
) -> None:
    page = laptop
    name = unique_name("Nightly report")
    sign_in(page, web, "editor", "/cron")
    expect(page.get_by_role("heading", level=1, name="Cron jobs")).to_be_visible()
    page.get_by_role("button", name="New job").click()
    page.wait_for_url(f"{web.url}/cron/new")

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Timezone").fill("Asia/Seoul")
    expression = page.get_by_label("Cron expression")
    expression.fill("")
    # The preview follows the typing: every five minutes first ...
    expression.press_sequentially("*/5 * * * *", delay=40)
    expect(page.get_by_test_id("fire-times").locator("li")).to_have_count(5)
    expect(page.get_by_text("Every 5 minutes")).to_be_visible()
    times = preview_times(page)
    assert all(datetime.fromisoformat(time).minute % 5 == 0 for time in times), times
    assert all(time.endswith("+09:00") for time in times), times
    # ... it is ecron's own answer for that schedule ...
    with web.platform.client("ecron") as ecron:
        asked = ecron.post(
            "/api/v1/schedules/preview",
            json={"schedules": [{"cron": "*/5 * * * *", "timezone": "Asia/Seoul"}], "count": 5},
        ).json()["fire_times"]
    assert times == asked or times[1:] == asked[:4], (times, asked)  # a slot may pass between the two asks
    # ... then a daily time, and the preview changes without any button.
    expression.fill("")
    expression.press_sequentially("30 6 * * *", delay=40)
    expect(page.get_by_test_id("fire-times").locator("li").first).to_contain_text("06:30")
    assert all("T06:30:00+09:00" in time for time in preview_times(page)), preview_times(page)
    # A slip shows the parser's reason from ecron's 422 next to the preview.
    expression.fill("30 66 * * *")
    expect(page.get_by_test_id("preview-error")).to_contain_text("66")
    expect(page.get_by_test_id("fire-times")).to_have_count(0)
    expression.fill("30 6 * * *")
    expect(page.get_by_test_id("fire-times").locator("li")).to_have_count(5)

    page.get_by_label("URL").fill(f"{receiver.url}/hook/{{{{job_id}}}}")
    page.get_by_label("Authorization").select_option("none")
    page.get_by_label("Body").fill('{"execution": "{{execution_id}}"}')
    fits_width(page)
    screenshot(page, "cron-editor")
    page.get_by_role("button", name="Create job").click()

    page.wait_for_url(re.compile(rf"{re.escape(web.url)}/cron/[0-9a-f]{{32}}$"))
    job_id = page.url.rsplit("/", 1)[1]
    state = page.get_by_test_id("job-state")
    expect(state).to_have_text("active")
    expect(page.get_by_text("At 06:30 (30 6 * * *) · Asia/Seoul")).to_be_visible()
    expect(page.get_by_text("No executions yet.")).to_be_visible()

    page.get_by_role("button", name=f"Pause {name}").click()
    expect(state).to_have_text("paused")
    with web.platform.client("ecron") as ecron:
        assert ecron.get(f"/api/v1/jobs/{job_id}").json()["state"] == "paused"
    page.get_by_role("button", name=f"Resume {name}").click()
    expect(state).to_have_text("active")
    with web.platform.client("ecron") as ecron:
        assert ecron.get(f"/api/v1/jobs/{job_id}").json()["state"] == "active"

    page.get_by_role("button", name=f"Run {name} now").click()
    history = page.get_by_test_id("executions")
    row = history.locator("tbody tr").first
    expect(row).to_contain_text("succeeded", timeout=FLOW_TIMEOUT_MS)
    expect(row).to_contain_text("manual")
    expect(row).to_contain_text('HTTP 200 · {"received": 1}')
    assert len(receiver.requests) == 1
    request = receiver.requests[0]
    assert request["path"] == f"/hook/{job_id}"
    execution_id = request["headers"]["X-Ecron-Execution-Id"]
    assert json.loads(request["body"]) == {"execution": execution_id}
    row.click()
    expect(history.get_by_text(execution_id)).to_be_visible()
    fits_width(page)
    screenshot(page, "cron-job")

    # Editing loads what was saved, previews the change, and keeps the history.
    page.get_by_role("link", name=f"Edit {name}").click()
    page.wait_for_url(f"{web.url}/cron/{job_id}/edit")
    expression = page.get_by_label("Cron expression")
    expect(expression).to_have_value("30 6 * * *")
    expect(page.get_by_label("Timezone")).to_have_value("Asia/Seoul")
    expect(page.get_by_label("URL")).to_have_value(f"{receiver.url}/hook/{{{{job_id}}}}")
    expression.fill("")
    expression.press_sequentially("0 7 * * 1-5", delay=40)
    expect(page.get_by_test_id("fire-times").locator("li").first).to_contain_text("07:00")
    weekdays = {datetime.fromisoformat(time).weekday() for time in preview_times(page)}
    assert weekdays <= {0, 1, 2, 3, 4}, weekdays
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(f"{web.url}/cron/{job_id}")
    expect(page.get_by_text("At 07:00, Monday through Friday (0 7 * * 1-5) · Asia/Seoul")).to_be_visible()
    expect(page.get_by_test_id("executions").locator("tbody tr").first).to_contain_text("succeeded")

    page.get_by_role("link", name="Cron jobs", exact=True).first.click()
    page.wait_for_url(f"{web.url}/cron")
    listed = page.locator(f"tr[data-job-id='{job_id}']")
    expect(listed).to_contain_text(name)
    expect(listed).to_contain_text("active")
    expect(listed).to_contain_text("succeeded")
    fits_width(page)
    screenshot(page, "cron-jobs")

    listed.get_by_role("button", name=f"Delete {name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(listed).to_have_count(0)
    with web.platform.client("ecron") as ecron:
        assert ecron.get(f"/api/v1/jobs/{job_id}").status_code == 404


# -- stream pipelines ----------------------------------------------------------------------------------


@pytest.fixture
def stream_worker(web: WebPlatform) -> Iterator[Workers]:
    """A real stream worker for the pipelines this module creates (ids ``web-ops-*``)."""
    workers = Workers(web.platform)
    workers.start(["web-ops-*"], name=f"web-ops-{uuid.uuid4().hex[:6]}")
    yield workers
    problems = workers.stop_all()
    assert not problems, "the stream worker logged unexpected errors:\n" + "\n".join(problems)


def stat_total(page: Page, test_id: str) -> int:
    text = page.get_by_test_id(test_id).inner_text()
    match = re.search(r"([\d,]+) total", text)
    assert match, text
    return int(match.group(1).replace(",", ""))


def test_build_a_stream_pipeline_preview_it_start_it_and_watch_messages_flow(
    laptop: Page,
    web: WebPlatform,
    stream_worker: Workers,
    new_topic: Callable[..., str],
    screenshot: Callable[[Page, str], Path],
) -> None:
    page = laptop
    source = new_topic(partitions=2, prefix="web-ops")
    sink = f"{source}.out"
    pipeline_id = f"web-ops-{uuid.uuid4().hex[:8]}"
    name = unique_name("Orders doubled")

    sign_in(page, web, "editor", "/streams")
    expect(page.get_by_role("heading", level=1, name="Streams")).to_be_visible()
    page.get_by_role("button", name="New pipeline").click()
    page.wait_for_url(f"{web.url}/streams/new")
    # The editor offers every step and sink type the service has.
    step_types = (
        page.get_by_label("New step type").locator("option").evaluate_all("(options) => options.map(o => o.value)")
    )
    assert sorted(step_types) == sorted(STEP_TYPES)
    sink_types = page.get_by_label("Sink type").locator("option").evaluate_all("(options) => options.map(o => o.value)")
    assert sorted(sink_types) == sorted(SINK_TYPES)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Id", exact=True).fill(pipeline_id)
    page.get_by_label("Source topics").fill(source)

    page.get_by_label("New step type").select_option("map")
    page.get_by_role("button", name="+ Add step").click()
    step = page.get_by_test_id("step-0")
    step.get_by_label("Field 1", exact=True).fill("total")
    step.get_by_label("Expression 1", exact=True).fill("amount * 2")
    page.get_by_label("New step type").select_option("filter")
    page.get_by_role("button", name="+ Add step").click()
    page.get_by_test_id("step-1").get_by_label("Keep when").fill("total > 20")
    page.get_by_label("Topic", exact=True).fill(sink)
    fits_width(page)
    screenshot(page, "stream-editor")

    # A bad expression comes back as the service's 422, placed on the step's field.
    page.get_by_test_id("step-1").get_by_label("Keep when").fill("total >")
    page.get_by_role("button", name="Create pipeline").click()
    expect(page.get_by_test_id("step-1").locator(".field-error")).to_be_visible()
    expect(page.get_by_role("alert").first).to_contain_text("does not match the expected shape")
    page.get_by_test_id("step-1").get_by_label("Keep when").fill("total > 20")
    page.get_by_role("button", name="Create pipeline").click()
    page.wait_for_url(f"{web.url}/streams/{pipeline_id}")
    expect(page.get_by_test_id("pipeline-state")).to_have_text("stopped")

    page.get_by_role("tab", name="Preview").click()
    samples = page.get_by_label("Sample messages")
    samples.fill('{"id": 1, "amount": 12}\n{"id": 2, "amount": 3}\n{"id": 3}')
    page.get_by_role("button", name="Run preview").click()
    result = page.get_by_test_id("preview-result")
    expect(result).to_contain_text("1 out · 1 dead-lettered")
    expect(page.get_by_test_id("preview-output")).to_have_text('{"id":1,"amount":12,"total":24}')
    expect(page.get_by_test_id("preview-dead-letters")).to_contain_text("sample 3 at steps[0] map")
    fits_width(page)
    screenshot(page, "stream-preview")

    page.get_by_role("tab", name="Status").click()
    page.get_by_role("button", name=f"Start {name}").click()
    expect(page.get_by_test_id("pipeline-state")).to_have_text("running")
    expect(page.get_by_test_id("pipeline-health")).to_have_text("running", timeout=FLOW_TIMEOUT_MS)
    expect(page.get_by_test_id("stat-in")).to_contain_text("0 total")

    passing = [{"id": index, "amount": 50 + index} for index in range(6)]
    failing = [{"id": 100 + index} for index in range(2)]
    produce(source, passing + failing, keys=[str(item["id"]) for item in passing + failing])
    expect(page.get_by_test_id("stat-in")).to_contain_text("8 total", timeout=FLOW_TIMEOUT_MS)
    expect(page.get_by_test_id("stat-out")).to_contain_text("6 total")
    expect(page.get_by_test_id("stat-dead")).to_contain_text("2 total")
    expect(page.get_by_test_id("stat-lag")).to_contain_text("0", timeout=FLOW_TIMEOUT_MS)
    delivered = read_json(sink, 6)
    assert sorted(item["total"] for item in delivered) == sorted(2 * item["amount"] for item in passing)
    fits_width(page)
    screenshot(page, "stream-status")

    # More messages: the counters keep climbing while the page watches.
    produce(source, [{"id": 200, "amount": 99}])
    expect(page.get_by_test_id("stat-in")).to_contain_text("9 total", timeout=FLOW_TIMEOUT_MS)
    assert stat_total(page, "stat-out") == 7

    page.get_by_role("tab", name="Dead letters").click()
    letters = page.get_by_test_id("dead-letters")
    expect(letters.locator("tbody tr")).to_have_count(2)
    expect(letters).to_contain_text("steps[0] map")
    expect(letters).to_contain_text("2 not replayed")
    fits_width(page)
    screenshot(page, "stream-dead-letters")
    letters.get_by_role("button", name="Replay all not replayed").click()
    page.get_by_role("dialog").get_by_role("button", name="Replay").click()
    expect(page.get_by_text("Replayed 2 dead letter(s)")).to_be_visible()

    # The replayed messages fail again (they still have no amount): the worker counts them, and they come
    # back as new dead letters that keep their true origin, beside the two marked replayed.
    page.get_by_role("tab", name="Status").click()
    expect(page.get_by_test_id("stat-dead")).to_contain_text("4 total", timeout=FLOW_TIMEOUT_MS)
    page.get_by_role("tab", name="Dead letters").click()
    expect(letters.locator("tbody tr")).to_have_count(4)
    expect(letters.locator("tbody tr", has_text="replayed")).to_have_count(2)
    expect(letters).to_contain_text("2 not replayed")
    origins = letters.locator("tbody tr td:nth-child(5)").all_inner_texts()
    assert sorted(origins[:2]) == sorted(origins[2:]), origins

    page.get_by_role("link", name="Streams", exact=True).last.click()
    page.wait_for_url(f"{web.url}/streams")
    row = page.locator(f"tr[data-pipeline-id='{pipeline_id}']")
    # A recent error (a worker that restarted its consumer, say) shows as "error" for a minute, then clears.
    expect(row.get_by_test_id("pipeline-health")).to_have_text("running", timeout=75_000)
    expect(row).to_contain_text("7 total")
    fits_width(page)
    screenshot(page, "streams")

    row.get_by_role("button", name=f"Stop {name}").click()
    expect(row.get_by_role("button", name=f"Start {name}")).to_be_visible()
    with web.platform.client("stream_pipeline") as streams:
        assert streams.get(f"/api/v1/pipelines/{pipeline_id}").json()["state"] == "stopped"
        wait_until(
            lambda: not streams.get(f"/api/v1/pipelines/{pipeline_id}/status").json()["workers"],
            timeout=60,
            interval=0.5,
            message="the worker to let the pipeline go",
        )
    expect(row.get_by_test_id("pipeline-health")).to_have_text("stopped", timeout=FLOW_TIMEOUT_MS)


# -- connections --------------------------------------------------------------------------------------


def create_connection(page: Page, *, name: str, url: str, password: str = "") -> None:
    page.get_by_role("button", name="New connection").click()
    form = page.get_by_test_id("connection-form")
    form.get_by_label("Name").fill(name)
    form.get_by_label("URL").fill(url)
    if password:
        form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Create").click()
    expect(form).to_have_count(0)


def test_create_test_and_edit_connections_without_the_password_ever_coming_back(
    laptop: Page,
    web: WebPlatform,
    tmp_path: Path,
    screenshot: Callable[[Page, str], Path],
) -> None:
    page = laptop
    sqlite_name, postgres_name, wrong_name = unique_name("Local file"), unique_name("Warehouse"), unique_name("Wrong")
    wrong_password = f"wrong-{uuid.uuid4().hex[:10]}"
    sign_in(page, web, "editor", "/connections")
    expect(page.get_by_role("heading", level=1, name="Connections")).to_be_visible()

    create_connection(page, name=sqlite_name, url=f"sqlite:///{tmp_path}/web.db")
    create_connection(page, name=postgres_name, url=POSTGRES_URL)
    create_connection(
        page, name=wrong_name, url="postgresql://dataflow@127.0.0.1:5432/dataflow_test", password=wrong_password
    )

    sqlite_row = page.locator("tr", has_text=sqlite_name)
    postgres_row = page.locator("tr", has_text=postgres_name)
    wrong_row = page.locator("tr", has_text=wrong_name)
    expect(sqlite_row.get_by_test_id("connection-url")).to_have_text(f"sqlite:///{tmp_path}/web.db")
    expect(postgres_row.get_by_test_id("connection-url")).to_have_text(
        "postgresql://dataflow:***@127.0.0.1:5432/dataflow_test"
    )
    expect(wrong_row.get_by_test_id("connection-url")).to_have_text(
        "postgresql://dataflow:***@127.0.0.1:5432/dataflow_test"
    )

    sqlite_row.get_by_role("button", name=f"Test {sqlite_name}").click()
    expect(sqlite_row.get_by_test_id("test-result")).to_contain_text("✓ connected to sqlite")
    postgres_row.get_by_role("button", name=f"Test {postgres_name}").click()
    expect(postgres_row.get_by_test_id("test-result")).to_contain_text("✓ connected to postgresql (dataflow_test)")
    wrong_row.get_by_role("button", name=f"Test {wrong_name}").click()
    expect(wrong_row.get_by_test_id("test-result")).to_contain_text("✗")
    expect(wrong_row.get_by_test_id("test-result")).to_contain_text("password authentication failed")
    fits_width(page)
    screenshot(page, "connections")

    # Editing shows the masked URL and an empty password; saving keeps the stored password.
    postgres_row.get_by_role("button", name=f"Edit {postgres_name}").click()
    form = page.get_by_test_id("connection-form")
    expect(form.get_by_label("URL")).to_have_value("postgresql://dataflow:***@127.0.0.1:5432/dataflow_test")
    expect(form.get_by_label("Password")).to_have_value("")
    form.get_by_label("Description").fill("the test database")
    form.get_by_role("button", name="Save").click()
    expect(form).to_have_count(0)
    expect(postgres_row).to_contain_text("the test database")
    expect(postgres_row.get_by_test_id("test-result")).to_have_count(0)
    postgres_row.get_by_role("button", name=f"Test {postgres_name}").click()
    expect(postgres_row.get_by_test_id("test-result")).to_contain_text("✓ connected to postgresql")

    # No secret anywhere: not in the page, not in what the browser received, not after a reload.
    page.reload()
    expect(page.locator("tr", has_text=postgres_name)).to_be_visible()
    content = page.content()
    assert "dataflow:dataflow@" not in content
    assert wrong_password not in content
    with web.platform.client("flow_automation") as api:
        listed = api.get("/api/v1/connections").json()["items"]
    assert all("dataflow:dataflow@" not in item["url"] and wrong_password not in item["url"] for item in listed)

    wrong = page.locator("tr", has_text=wrong_name)
    wrong.get_by_role("button", name=f"Delete {wrong_name}").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(page.locator("tr", has_text=wrong_name)).to_have_count(0)
    with web.platform.client("flow_automation") as api:
        names = [item["name"] for item in api.get("/api/v1/connections").json()["items"]]
    assert wrong_name not in names and postgres_name in names

    # A connection a flow uses: the delete is refused, the dialog names the flow, and "Delete anyway" forces it.
    sqlite_id = sqlite_row.locator("code").first.inner_text()
    flow_id = f"web-ops-{uuid.uuid4().hex[:8]}"
    flow = {
        "id": flow_id,
        "name": unique_name("Reads the local file"),
        "nodes": [{"id": "q", "type": "sql.query", "config": {"connection": sqlite_id, "query": "select 1"}}],
    }
    with web.platform.client("flow_automation") as api:
        assert api.post("/api/v1/flows", json=flow).status_code == 201
    sqlite_row.get_by_role("button", name=f"Delete {sqlite_name}").click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_role("button", name="Delete", exact=True).click()
    expect(dialog).to_contain_text(f"1 flow(s) use {sqlite_id}: {flow_id}")
    expect(sqlite_row).to_be_visible()
    dialog.get_by_role("button", name="Delete anyway").click()
    expect(page.locator("tr", has_text=sqlite_name)).to_have_count(0)
    with web.platform.client("flow_automation") as api:
        assert api.get(f"/api/v1/connections/{sqlite_id}").status_code == 404


# -- a viewer -------------------------------------------------------------------------------------------


def test_a_viewer_sees_the_operations_screens_without_edit_or_run_buttons(laptop: Page, web: WebPlatform) -> None:
    page = laptop
    job_name, pipeline_name, connection_name = (
        unique_name("Viewer job"),
        unique_name("Viewer pipe"),
        unique_name("Viewer db"),
    )
    with web.platform.client("ecron") as ecron:
        created = ecron.post(
            "/api/v1/jobs",
            json={
                "name": job_name,
                "schedule": {"cron": "0 6 * * *"},
                "action": {"type": "http", "url": "http://127.0.0.1:9/never", "auth": "none"},
            },
        )
        assert created.status_code == 201, created.text
        job_id = created.json()["id"]
    with web.platform.client("stream_pipeline") as streams:
        created = streams.post(
            "/api/v1/pipelines",
            json={
                "id": f"web-ops-viewer-{uuid.uuid4().hex[:6]}",
                "name": pipeline_name,
                "source": {"topics": ["web-ops-viewer"]},
                "sink": {"type": "kafka", "topic": "web-ops-viewer.out"},
            },
        )
        assert created.status_code == 201, created.text
    with web.platform.client("flow_automation") as api:
        created = api.post(
            "/api/v1/connections", json={"name": connection_name, "kind": "sql", "url": "sqlite:///x.db"}
        )
        assert created.status_code == 201, created.text

    sign_in(page, web, "viewer", "/cron")
    row = page.locator(f"tr[data-job-id='{job_id}']")
    expect(row).to_contain_text(job_name)
    expect(page.get_by_role("button", name="New job")).to_have_count(0)
    expect(row.get_by_role("button")).to_have_count(0)
    row.get_by_role("link", name=job_name).click()
    expect(page.get_by_test_id("job-state")).to_have_text("active")
    for label in ("Pause", "Run", "Edit", "Delete"):
        expect(page.get_by_role("button", name=re.compile(f"^{label}"))).to_have_count(0)
    page.goto(f"{web.url}/cron/new")
    expect(page.get_by_text("Your role may read cron jobs but not change them.")).to_be_visible()

    page.goto(f"{web.url}/streams")
    row = page.locator("tr", has_text=pipeline_name)
    expect(row).to_be_visible()
    expect(page.get_by_role("button", name="New pipeline")).to_have_count(0)
    expect(row.get_by_role("button")).to_have_count(0)

    page.goto(f"{web.url}/connections")
    row = page.locator("tr", has_text=connection_name)
    expect(row).to_be_visible()
    expect(page.get_by_role("button", name="New connection")).to_have_count(0)
    expect(row.get_by_role("button")).to_have_count(0)
