"""The Flows screen: search, create, duplicate, export and import a file, delete with confirmation."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from playwright.sync_api import Page, expect

from tests.e2e.conftest import WebPlatform, sign_in, unique_name

pytestmark = pytest.mark.integration


def test_flows_list_search_duplicate_export_import_and_delete(
    page: Page, web: WebPlatform, tmp_path: Path, screenshot: Callable[[Page, str], Path]
) -> None:
    name = unique_name("Nightly export")
    flow = {
        "name": name,
        "description": "exports the day's orders",
        "nodes": [{"id": "start", "type": "noop"}],
        "triggers": [{"type": "cron", "cron": "30 2 * * *", "timezone": "UTC"}],
    }
    with web.api() as api:
        created = api.post("/api/v1/flows", json=flow)
        assert created.status_code == 201, created.text
    flow_id = created.json()["id"]

    sign_in(page, web, "editor")
    # Flows are listed in id order a page at a time: with the whole suite's flows, search for this one.
    page.get_by_label("Search flows").fill(flow_id)
    row = page.locator(f"tr[data-flow-id='{flow_id}']")
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("v1")
    expect(row).to_contain_text("never run")
    expect(row).to_contain_text("30 2 * * *")
    expect(row).to_contain_text("in ")  # the next fire time, from ecron's preview
    screenshot(page, "flows")

    expect(page.locator("tbody tr")).to_have_count(1)
    page.get_by_label("Search flows").fill("no flow is called this")
    expect(page.get_by_text("No flow matches")).to_be_visible()
    page.get_by_label("Search flows").fill(flow_id)

    row.get_by_role("button", name="Duplicate").click()
    copy_row = page.locator(f"tr[data-flow-id='{flow_id}-copy']")
    expect(copy_row).to_contain_text(f"{name} (copy)")

    with page.expect_download() as download:
        row.get_by_role("button", name="Export", exact=True).click()
    exported = tmp_path / download.value.suggested_filename
    download.value.save_as(exported)
    assert exported.name == f"{flow_id}.yaml"
    definition = yaml.safe_load(exported.read_text())
    assert definition["name"] == name and definition["triggers"][0]["cron"] == "30 2 * * *"

    definition.update({"id": f"{flow_id}-imported", "name": f"{name} imported"})
    imported_file = tmp_path / "imported.yaml"
    imported_file.write_text(yaml.safe_dump(definition))
    page.get_by_test_id("import-file").set_input_files(str(imported_file))
    page.get_by_label("Search flows").fill("")
    expect(page.locator(f"tr[data-flow-id='{flow_id}-imported']")).to_contain_text(f"{name} imported")

    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nnodes:\n  - id: a\n    type: no.such.type\n")
    page.get_by_test_id("import-file").set_input_files(str(broken))
    expect(page.get_by_role("alert").filter(has_text="unknown node type 'no.such.type'")).to_be_visible()

    copy_row.get_by_role("button", name=f"Delete {name} (copy)").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"{flow_id}-copy")
    dialog.get_by_role("button", name="Cancel").click()
    expect(copy_row).to_be_visible()
    copy_row.get_by_role("button", name=f"Delete {name} (copy)").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete").click()
    expect(copy_row).to_have_count(0)
    with web.api() as api:
        assert api.get(f"/api/v1/flows/{flow_id}-copy").status_code == 404
        assert api.get(f"/api/v1/flows/{flow_id}-imported").json()["version"] == 1
