"""Browser tests: Debian's Chromium, driven by Playwright, against the real platform.

The session's platform (``tests/integration/fixtures/platform.py``) runs every
service on free ports, flow_web among them, serving the bundle that
``scripts/frontend.sh`` built. Playwright never downloads a browser: it
launches ``/usr/bin/chromium`` (installed by ``scripts/system-packages.sh``),
headless, with its background networking off.

flow_web listens on a free port, so its callback is not among the web
client's default redirect URIs (``127.0.0.1:8080``). flow_automation replicas
bring the ``flow-web`` client in line with their ``DATAFLOW_WEB_REDIRECT_URIS``
when they start, so one more replica, started with flow_web's callback,
registers it for the whole platform, as a deployment on another address would.

Screenshots go to ``<pytest basetemp>/screenshots/`` and each is checked not
to be blank.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, expect, sync_playwright

from tests.integration.fixtures.platform import Platform
from tests.integration.fixtures.servers import REPO

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}  # a laptop screen
TIMEOUT_MS = 20_000
PASSWORD = "correct horse battery"

expect.set_options(timeout=TIMEOUT_MS)


@dataclass
class WebPlatform:
    """The platform as the browser sees it: flow_web's URL and the people who sign in."""

    platform: Platform
    url: str
    users: dict[str, str]  # role -> username, all with PASSWORD

    def api(self, scopes: str | None = None) -> httpx.Client:
        """flow_automation's API with the development client's token (for setting up and checking)."""
        return self.platform.client("flow_automation", scopes)


@pytest.fixture(scope="session")
def built_bundle() -> Path:
    """The front end is built (a no-op when scripts/frontend.sh already built these sources)."""
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "frontend.sh")], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"scripts/frontend.sh failed:\n{result.stdout}\n{result.stderr}"
    bundle = REPO / "flow_web" / "frontend" / "dist"
    assert (bundle / "index.html").is_file()
    return bundle


@pytest.fixture(scope="session")
def web(platform: Platform, built_bundle: Path) -> WebPlatform:
    url = platform.url("flow_web")
    callbacks = f"{url}/auth/callback,{url.replace('127.0.0.1', 'localhost')}/auth/callback"
    replica = platform.start("flow_automation", extra_env={"DATAFLOW_WEB_REDIRECT_URIS": callbacks})
    platform.services[f"flow_automation-web-callback-{replica.port}"] = replica
    users = {}
    with platform.client("flow_automation") as admin:
        for role in ("editor", "viewer"):
            username = f"{role}-{uuid.uuid4().hex[:6]}"
            response = admin.post("/api/v1/users", json={"username": username, "password": PASSWORD, "role": role})
            assert response.status_code == 201, response.text
            users[role] = username
    return WebPlatform(platform=platform, url=url, users=users)


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    launched = playwright_driver.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh browser context (no session) and page; fails the test on an uncaught error in the page."""
    context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    crashes: list[str] = []
    opened.on("pageerror", lambda error: crashes.append(str(error)))
    opened.on("console", lambda message: _note_console(message, crashes))
    yield opened
    context.close()
    assert not crashes, "the page raised errors:\n" + "\n".join(crashes)


def _note_console(message: ConsoleMessage, crashes: list[str]) -> None:
    # Failed requests show up as console errors too; those are asserted by the tests themselves.
    if message.type == "error" and "Failed to load resource" not in message.text:
        crashes.append(f"console error: {message.text}")


def sign_in(page: Page, web: WebPlatform, role: str, path: str = "/flows") -> None:
    """Open ``path`` signed out, sign in on flow_automation's page (through flow_web), land back on ``path``."""
    page.goto(web.url + path)
    page.wait_for_url(f"{web.url}/oauth2/authorize?**")
    page.fill("#username", web.users[role])
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{web.url}{path}")
    expect(page.get_by_test_id("user-name")).to_have_text(web.users[role])


def session_tokens(page: Page) -> dict[str, Any]:
    """The tokens the UI keeps in sessionStorage."""
    raw = page.evaluate("() => sessionStorage.getItem('dataflow.tokens')")
    assert raw, "no session in sessionStorage"
    return json.loads(raw)


def unique_name(prefix: str) -> str:
    return f"{prefix} {secrets.token_hex(3)}"


# -- screenshots ------------------------------------------------------------------------------


def assert_not_blank(path: Path, *, min_colours: int = 24, max_dominant_share: float = 0.97) -> None:
    """A screenshot shows something: enough distinct colours, and no single colour covering nearly all of it."""
    with Image.open(path) as image:
        pixels = image.convert("RGB")
        colours = pixels.getcolors(maxcolors=pixels.width * pixels.height)
    assert colours is not None
    total = pixels.width * pixels.height
    dominant = max(count for count, _ in colours)
    assert len(colours) >= min_colours, f"{path} has only {len(colours)} colours: a blank page?"
    assert dominant / total <= max_dominant_share, f"{path} is {dominant / total:.1%} one colour: a blank page?"


@pytest.fixture(scope="session")
def screenshot_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.getbasetemp() / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.fixture
def screenshot(screenshot_dir: Path) -> Callable[[Page, str], Path]:
    """``screenshot(page, "flows")``: saves ``<basetemp>/screenshots/flows.png`` and checks it is not blank."""

    def take(page: Page, name: str) -> Path:
        path = screenshot_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=False)
        assert_not_blank(path)
        return path

    return take
