"""Signing in to the web UI through flow_automation's real sign-in page, and out again."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import PASSWORD, WebPlatform, session_tokens, sign_in

pytestmark = pytest.mark.integration


def test_sign_in_through_the_login_page_and_sign_out_revokes_the_session(
    page: Page, web: WebPlatform, screenshot: Callable[[Page, str], Path]
) -> None:
    page.goto(web.url + "/flows")
    # The UI sends the browser to the sign-in page, on flow_web's own origin (proxied to flow_automation).
    page.wait_for_url(f"{web.url}/oauth2/authorize?**")
    assert "code_challenge_method=S256" in page.url and "client_id=flow-web" in page.url
    expect(page.get_by_role("button", name="Sign in")).to_be_visible()
    screenshot(page, "sign-in")

    page.fill("#username", web.users["editor"])
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{web.url}/flows")
    expect(page.get_by_test_id("user-name")).to_have_text(web.users["editor"])
    expect(page.get_by_test_id("user-role")).to_have_text("editor")
    tokens = session_tokens(page)
    assert "flows:write" in tokens["scopes"] and "admin" not in tokens["scopes"]
    assert tokens["refreshToken"]

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Signed out")).to_be_visible()
    assert page.evaluate("() => sessionStorage.getItem('dataflow.tokens')") is None
    # The refresh token was revoked at the server: it no longer buys an access token.
    refresh = httpx.post(
        f"{web.url}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refreshToken"], "client_id": "flow-web"},
        timeout=10,
    )
    assert refresh.status_code == 400, refresh.text
    assert refresh.json()["error"] == "invalid_grant"


def test_a_wrong_password_stays_on_the_sign_in_page_with_a_message(page: Page, web: WebPlatform) -> None:
    page.goto(web.url + "/runs")
    page.wait_for_url(f"{web.url}/oauth2/authorize?**")
    page.fill("#username", web.users["viewer"])
    page.fill("#password", "not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_be_visible()
    assert page.url.startswith(f"{web.url}/oauth2/authorize")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    # After the sign-in the UI goes back where it was asked for.
    page.wait_for_url(f"{web.url}/runs")


def test_the_session_is_refreshed_silently_when_the_access_token_expires(page: Page, web: WebPlatform) -> None:
    sign_in(page, web, "editor")
    before = session_tokens(page)
    # Pretend the access token expired a minute ago: the next call refreshes it first.
    page.evaluate(
        """() => {
            const tokens = JSON.parse(sessionStorage.getItem('dataflow.tokens'));
            tokens.expiresAt = Date.now() - 60000;
            sessionStorage.setItem('dataflow.tokens', JSON.stringify(tokens));
        }"""
    )
    page.reload()
    expect(page.get_by_test_id("flows-screen")).to_be_visible()
    expect(page.get_by_role("table", name="Flows").or_(page.get_by_text("No flows yet"))).to_be_visible()
    after = session_tokens(page)
    assert after["accessToken"] != before["accessToken"]
    assert after["refreshToken"] != before["refreshToken"]  # refresh tokens rotate on use
    assert after["expiresAt"] > before["expiresAt"]
