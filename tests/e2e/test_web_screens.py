"""Every main screen renders (never a blank page), including the ones still to be filled in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import WebPlatform, sign_in

pytestmark = pytest.mark.integration

SCREENS = [
    ("/runs", "Runs", "runs"),
    ("/cron", "Cron jobs", "cron-jobs"),
    ("/streams", "Streams", "streams"),
    ("/connections", "Connections", "connections"),
]


def test_every_main_screen_renders_under_the_navigation(
    page: Page, web: WebPlatform, screenshot: Callable[[Page, str], Path]
) -> None:
    sign_in(page, web, "editor")
    for path, label, name in SCREENS:
        page.get_by_role("navigation", name="Main").get_by_role("link", name=label).click()
        page.wait_for_url(f"{web.url}{path}")
        expect(page.get_by_role("heading", level=1, name=label)).to_be_visible()
        expect(page.get_by_role("link", name=label)).to_have_class("nav-link active")
        screenshot(page, name)
    page.goto(f"{web.url}/no/such/screen")
    expect(page.get_by_text("No screen at")).to_be_visible()
    page.get_by_role("link", name="Go to the flows").click()
    page.wait_for_url(f"{web.url}/flows")


def test_a_new_flow_opens_an_empty_designer_with_the_whole_palette(
    page: Page, web: WebPlatform, screenshot: Callable[[Page, str], Path]
) -> None:
    sign_in(page, web, "editor", "/flows/new")
    expect(page.get_by_text("Drag a node from the palette to start.")).to_be_visible()
    with web.api("flows:read") as api:
        registry = api.get("/api/v1/node-types").json()
    palette = page.get_by_label("Node palette")
    for item in registry["items"]:
        expect(palette.get_by_test_id(f"palette-{item['id']}")).to_be_visible()
    palette.get_by_label("Search node types").fill("transform.join")
    expect(palette.locator(".palette-item")).to_have_count(1)
    expect(palette.get_by_test_id("palette-transform.join")).to_be_visible()
    palette.get_by_label("Search node types").fill("")
    screenshot(page, "designer-new")
