"""A viewer sees flows but no edit or run controls, and the API refuses their writes anyway."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import WebPlatform, session_tokens, sign_in, unique_name

pytestmark = pytest.mark.integration


def test_viewer_sees_no_edit_or_run_buttons_and_cannot_edit(
    page: Page, web: WebPlatform, screenshot: Callable[[Page, str], Path]
) -> None:
    flow = {
        "name": unique_name("Viewer check"),
        "nodes": [
            {"id": "source", "type": "python", "config": {"code": "result = 1"}},
            {"id": "sink", "type": "noop", "inputs": {"value": "source.result"}},
        ],
    }
    with web.api() as api:
        created = api.post("/api/v1/flows", json=flow)
        assert created.status_code == 201, created.text
    flow_id = created.json()["id"]

    sign_in(page, web, "viewer")
    expect(page.get_by_test_id("user-role")).to_have_text("viewer")
    # Flows are listed in id order a page at a time: with the whole suite's flows, search for this one.
    page.get_by_role("searchbox", name="Search flows").fill(flow["name"])
    row = page.locator(f"tr[data-flow-id='{flow_id}']")
    expect(row).to_be_visible()
    for label in ("New flow", "Import"):
        expect(page.get_by_role("button", name=label)).to_have_count(0)
    expect(row.get_by_role("button", name="Duplicate")).to_have_count(0)
    expect(row.get_by_role("button", name=f"Delete {flow['name']}")).to_have_count(0)
    expect(row.get_by_role("button", name="Export")).to_be_visible()

    row.get_by_role("link", name="View", exact=True).click()
    page.wait_for_url(f"{web.url}/flows/{flow_id}")
    expect(page.get_by_test_id("node-sink")).to_be_visible()
    toolbar = page.locator(".designer-toolbar")
    for label in ("Save", "Run", "Undo", "Redo", "Auto-layout"):
        expect(toolbar.get_by_role("button", name=label)).to_have_count(0)
    expect(page.get_by_label("Node palette")).to_have_count(0)
    expect(page.get_by_text("read only")).to_be_visible()

    page.get_by_test_id("node-source").click()
    expect(page.get_by_test_id("node-panel")).to_be_visible()
    expect(page.get_by_label("Node id")).to_be_disabled()
    assert page.get_by_test_id("code-code").locator(".cm-content").get_attribute("contenteditable") == "false"
    page.keyboard.press("Delete")
    expect(page.get_by_test_id("node-source")).to_be_visible()
    expect(page.get_by_test_id("unsaved")).to_have_count(0)
    screenshot(page, "designer-viewer")

    # The buttons are hidden, and the services refuse a viewer's token anyway.
    token = session_tokens(page)["accessToken"]
    refused = httpx.put(
        f"{web.url}/api/flow_automation/api/v1/flows/{flow_id}",
        json={**flow, "description": "changed"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "insufficient_scope"
    run = httpx.post(
        f"{web.url}/api/flow_automation/api/v1/flows/{flow_id}/runs",
        json={},
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert run.status_code == 403
