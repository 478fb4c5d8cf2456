"""The designer in a real browser: build, connect, configure, save, and the server's verdict on the nodes."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.e2e.conftest import WebPlatform, sign_in, unique_name

pytestmark = pytest.mark.integration


def drag_from_palette(page: Page, type_id: str, x: int, y: int) -> None:
    page.get_by_test_id(f"palette-{type_id}").drag_to(page.get_by_test_id("canvas"), target_position={"x": x, "y": y})


def connect(page: Page, source: str, output: str, target: str, input_handle: str) -> None:
    page.get_by_test_id(f"out-{source}-{output}").drag_to(page.get_by_test_id(f"in-{target}-{input_handle}"))


def code_editor(page: Page) -> Locator:
    return page.get_by_test_id("code-code").locator(".cm-content")


def saved_flow(web: WebPlatform, flow_id: str) -> dict[str, Any]:
    with web.api() as api:
        response = api.get(f"/api/v1/flows/{flow_id}")
    assert response.status_code == 200, response.text
    return response.json()


def create_flow(web: WebPlatform, flow: dict[str, Any]) -> str:
    with web.api() as api:
        response = api.post("/api/v1/flows", json=flow)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_build_a_three_node_flow_by_dragging_and_connecting_then_save(
    page: Page, web: WebPlatform, screenshot: Callable[[Page, str], Path]
) -> None:
    sign_in(page, web, "editor")
    page.get_by_role("button", name="New flow").click()
    page.wait_for_url(f"{web.url}/flows/new")
    expect(page.get_by_test_id("canvas")).to_be_visible()

    drag_from_palette(page, "python", 120, 160)
    drag_from_palette(page, "python", 380, 260)
    drag_from_palette(page, "noop", 640, 160)
    for node in ("python_1", "python_2", "noop_1"):
        expect(page.get_by_test_id(f"node-{node}")).to_be_visible()
    connect(page, "python_1", "result", "python_2", "new")
    connect(page, "python_2", "result", "noop_1", "new")
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    expect(page.get_by_test_id("in-python_2-python_1")).to_be_visible()

    name = unique_name("Three nodes")
    page.get_by_label("Flow name").fill(name)
    page.get_by_test_id("node-python_1").click()
    expect(page.get_by_test_id("node-panel")).to_be_visible()
    code_editor(page).fill("result = [{'region': 'eu', 'amount': 3}, {'region': 'us', 'amount': 4}]")
    page.get_by_test_id("node-python_2").click()
    code_editor(page).fill("result = sum(row['amount'] for row in inputs['python_1'])")
    page.get_by_label("Retries").fill("2")
    expect(page.get_by_test_id("unsaved")).to_be_visible()
    screenshot(page, "designer-editing")

    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"{re.escape(web.url)}/flows/three-nodes-[0-9a-f]+$"))
    expect(page.get_by_test_id("flow-version")).to_contain_text("v1")
    expect(page.get_by_test_id("unsaved")).to_have_count(0)
    expect(page.get_by_test_id("node-noop_1")).to_be_visible()
    screenshot(page, "designer-saved")

    flow_id = page.url.rsplit("/", 1)[1]
    definition = saved_flow(web, flow_id)["definition"]
    nodes = {node["id"]: node for node in definition["nodes"]}
    assert definition["name"] == name
    assert set(nodes) == {"python_1", "python_2", "noop_1"}
    assert nodes["python_2"]["inputs"] == {"python_1": "python_1.result"}
    assert nodes["noop_1"]["inputs"] == {"python_2": "python_2.result"}
    assert nodes["python_2"]["config"]["code"].startswith("result = sum(")
    assert nodes["python_2"]["retries"] == 2
    assert set(definition["ui"]["positions"]) == set(nodes)


def test_a_bad_config_shows_the_servers_error_on_its_node(
    page: Page, web: WebPlatform, screenshot: Callable[[Page, str], Path]
) -> None:
    flow_id = create_flow(
        web,
        {
            "name": unique_name("Bad config"),
            "nodes": [
                {"id": "load", "type": "python", "config": {"code": "result = 1"}},
                {"id": "shape", "type": "python", "config": {"code": "result = 2"}, "inputs": {"x": "load.result"}},
            ],
        },
    )
    sign_in(page, web, "editor", f"/flows/{flow_id}")
    page.get_by_test_id("node-shape").click()
    code_editor(page).fill("result = (")
    page.keyboard.press("Control+s")

    badge = page.get_by_test_id("problems-shape")
    expect(badge).to_contain_text("config.code")
    expect(badge).to_contain_text("never closed")
    expect(page.get_by_test_id("node-problems")).to_contain_text("line 1")
    expect(page.get_by_test_id("config-form")).to_contain_text("never closed")
    expect(page.get_by_test_id("problems-load")).to_have_count(0)
    expect(page.get_by_role("alert").filter(has_text="Not saved")).to_be_visible()
    expect(page.get_by_test_id("unsaved")).to_be_visible()
    screenshot(page, "designer-validation-error")
    assert saved_flow(web, flow_id)["version"] == 1

    # Fixing the code and saving clears the problem and makes version 2.
    code_editor(page).fill("result = (1, 2)")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("flow-version")).to_contain_text("v2")
    expect(page.get_by_test_id("problems-shape")).to_have_count(0)


def test_incompatible_and_cyclic_connections_are_refused_on_the_spot(page: Page, web: WebPlatform) -> None:
    sign_in(page, web, "editor", "/flows/new")
    drag_from_palette(page, "transform.filter", 120, 150)
    drag_from_palette(page, "document.extract", 420, 150)
    drag_from_palette(page, "python", 120, 380)
    drag_from_palette(page, "python", 420, 380)

    connect(page, "filter_1", "table", "extract_1", "file")
    expect(page.get_by_role("alert").filter(has_text="is table but input extract_1.file takes bytes")).to_be_visible()
    expect(page.locator(".react-flow__edge")).to_have_count(0)

    connect(page, "python_1", "result", "python_2", "new")
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    connect(page, "python_2", "result", "python_1", "new")
    expect(page.get_by_role("alert").filter(has_text="would create a cycle")).to_be_visible()
    expect(page.locator(".react-flow__edge")).to_have_count(1)


def test_keyboard_delete_copy_paste_undo_redo(page: Page, web: WebPlatform) -> None:
    flow_id = create_flow(
        web,
        {"name": unique_name("Keys"), "nodes": [{"id": "first", "type": "python", "config": {"code": "result = 1"}}]},
    )
    sign_in(page, web, "editor", f"/flows/{flow_id}")
    page.get_by_test_id("node-first").click()
    page.keyboard.press("Control+c")
    page.keyboard.press("Control+v")
    expect(page.get_by_test_id("node-first_1")).to_be_visible()
    expect(page.get_by_test_id("unsaved")).to_be_visible()
    page.keyboard.press("Delete")
    expect(page.get_by_test_id("node-first_1")).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(page.get_by_test_id("node-first_1")).to_be_visible()
    page.keyboard.press("Control+z")
    expect(page.get_by_test_id("node-first_1")).to_have_count(0)
    expect(page.get_by_test_id("unsaved")).to_have_count(0)
    page.keyboard.press("Control+y")
    expect(page.get_by_test_id("node-first_1")).to_be_visible()
    page.keyboard.press("Control+s")
    expect(page.get_by_test_id("flow-version")).to_contain_text("v2")
    assert {node["id"] for node in saved_flow(web, flow_id)["definition"]["nodes"]} == {"first", "first_1"}


def test_cron_trigger_shows_its_description_and_ecrons_next_fire_times_and_webhook_gets_a_url(
    page: Page, web: WebPlatform, screenshot: Callable[[Page, str], Path]
) -> None:
    flow_id = create_flow(web, {"name": unique_name("Scheduled"), "nodes": [{"id": "start", "type": "noop"}]})
    sign_in(page, web, "editor", f"/flows/{flow_id}")
    page.get_by_role("tab", name="Triggers (0)").click()
    page.get_by_role("button", name="+ Cron").click()
    page.get_by_label("Cron expression").fill("*/15 9-17 * * 1-5")
    preview = page.get_by_test_id("cron-preview")
    expect(preview).to_contain_text("Every 15 minutes, between 09:00 and 17:59, Monday through Friday")
    expect(page.get_by_label("Next fire times").locator("li")).to_have_count(5)
    page.get_by_label("Cron expression").fill("61 * * * *")
    expect(preview.locator(".field-error").first).to_be_visible()
    page.get_by_label("Cron expression").fill("0 6 * * *")
    expect(preview).to_contain_text("At 06:00")
    expect(page.get_by_label("Next fire times").locator("li")).to_have_count(5)
    page.get_by_role("button", name="+ Webhook").click()
    expect(page.get_by_text("Save the flow to get this webhook's URL")).to_be_visible()

    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("flow-version")).to_contain_text("v2")
    webhook = page.get_by_label("Webhook URL")
    expect(webhook).to_have_value(re.compile(r"/hooks/[A-Za-z0-9_-]{20,}$"))
    screenshot(page, "designer-triggers")
    triggers = saved_flow(web, flow_id)["definition"]["triggers"]
    assert [trigger["type"] for trigger in triggers] == ["cron", "webhook"]
    assert triggers[0]["cron"] == "0 6 * * *"


def test_version_history_shows_the_diff_and_restores_an_older_version(page: Page, web: WebPlatform) -> None:
    first = {"name": unique_name("History"), "nodes": [{"id": "a", "type": "python", "config": {"code": "result = 1"}}]}
    flow_id = create_flow(web, first)
    with web.api() as api:
        second = {
            "name": saved_flow(web, flow_id)["name"],
            "nodes": [
                {"id": "a", "type": "python", "config": {"code": "result = 2"}},
                {"id": "b", "type": "noop", "inputs": {"x": "a.result"}},
            ],
        }
        assert api.put(f"/api/v1/flows/{flow_id}", json=second).status_code == 200
    sign_in(page, web, "editor", f"/flows/{flow_id}")
    expect(page.get_by_test_id("node-b")).to_be_visible()
    page.get_by_role("button", name="Versions").click()
    detail = page.get_by_test_id("version-detail")
    expect(detail).to_contain_text("Changes in v2")
    expect(detail).to_contain_text("node b added")
    expect(detail).to_contain_text('node a: config.code "result = 1" → "result = 2"')
    page.get_by_role("button", name=re.compile(r"^v1")).click()
    expect(detail).to_contain_text("The first version")
    expect(detail).to_contain_text("node b removed")  # what restoring v1 would do to the design open now
    page.get_by_role("button", name="Restore v1").click()
    expect(page.get_by_test_id("node-b")).to_have_count(0)
    expect(page.get_by_test_id("unsaved")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("flow-version")).to_contain_text("v3")
    restored = saved_flow(web, flow_id)["definition"]
    assert [node["id"] for node in restored["nodes"]] == ["a"]
    assert restored["nodes"][0]["config"]["code"] == "result = 1"


def test_leaving_with_unsaved_changes_asks_first(page: Page, web: WebPlatform) -> None:
    flow_id = create_flow(web, {"name": unique_name("Unsaved"), "nodes": [{"id": "start", "type": "noop"}]})
    sign_in(page, web, "editor", f"/flows/{flow_id}")
    page.get_by_label("Flow name").fill("Renamed, not saved")
    page.get_by_role("link", name="Flows").click()
    dialog = page.get_by_role("dialog", name="Leave without saving?")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Cancel").click()
    assert page.url == f"{web.url}/flows/{flow_id}"
    expect(page.get_by_label("Flow name")).to_have_value("Renamed, not saved")
    page.get_by_role("link", name="Flows").click()
    page.get_by_role("dialog").get_by_role("button", name="Leave").click()
    page.wait_for_url(f"{web.url}/flows")
    assert saved_flow(web, flow_id)["name"] != "Renamed, not saved"


def test_auto_layout_puts_every_node_right_of_its_inputs(page: Page, web: WebPlatform) -> None:
    flow_id = create_flow(
        web,
        {
            "name": unique_name("Layout"),
            "nodes": [
                {"id": "last", "type": "noop", "inputs": {"x": "middle.result"}},
                {"id": "middle", "type": "python", "config": {"code": "result = 1"}, "inputs": {"y": "first.result"}},
                {"id": "first", "type": "python", "config": {"code": "result = 0"}},
            ],
            "ui": {"positions": {"last": {"x": 0, "y": 0}, "middle": {"x": 0, "y": 200}, "first": {"x": 0, "y": 400}}},
        },
    )
    sign_in(page, web, "editor", f"/flows/{flow_id}")
    page.get_by_role("button", name="Auto-layout").click()
    expect(page.get_by_test_id("unsaved")).to_be_visible()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("flow-version")).to_contain_text("v2")
    positions = saved_flow(web, flow_id)["definition"]["ui"]["positions"]
    assert positions["first"]["x"] < positions["middle"]["x"] < positions["last"]["x"]
