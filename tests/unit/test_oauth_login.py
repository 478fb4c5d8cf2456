"""The sign-in page and its guards: CSRF token, HTML escaping, CSP, failure limits (pure logic)."""

from __future__ import annotations

import base64
import hashlib
import re
import time
from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet, MultiFernet

from flow_automation.identity.login_form import (
    CSRF_FIELD,
    STYLE_SOURCE,
    LoginFormGuard,
    content_security_policy,
    render_error_page,
    render_login_page,
)
from flow_automation.identity.login_throttle import account_key, address_key, retry_after


def _guard(ttl_s: int = 3600) -> LoginFormGuard:
    return LoginFormGuard(MultiFernet([Fernet(Fernet.generate_key())]), ttl_s=ttl_s)


def test_form_token_is_accepted_only_with_its_own_cookie() -> None:
    guard = _guard()
    nonce = guard.nonce(None)
    token = guard.form_token(nonce)
    assert guard.check(nonce, token)
    assert not guard.check(guard.nonce(None), token)  # another browser's cookie
    assert not guard.check(None, token)
    assert not guard.check(nonce, None)
    assert not guard.check(nonce, token[:-2] + "xx")  # tampered
    assert not guard.check(nonce, _guard().form_token(nonce))  # signed with another key


def test_form_token_expires() -> None:
    guard = _guard(ttl_s=60)
    nonce = guard.nonce(None)
    old = guard.box.encrypt_at_time(nonce.encode(), int(time.time()) - 120).decode()
    assert not guard.check(nonce, old)


def test_a_well_formed_cookie_is_kept_and_anything_else_replaced() -> None:
    guard = _guard()
    nonce = guard.nonce(None)
    assert guard.nonce(nonce) == nonce
    assert guard.nonce("short") != "short"
    assert guard.nonce('"><script>' + "a" * 40) != '"><script>' + "a" * 40


def test_login_page_escapes_what_it_echoes_and_keeps_the_request() -> None:
    hostile = '"><script>alert(1)</script>'
    page = render_login_page(
        params={"client_id": "flow-web", "state": hostile, "code_challenge": "c" * 43, "extra": "dropped"},
        csrf_token="signed",
        client_name="<b>UI</b>",
        username=hostile,
        message=hostile,
    )
    assert "<script>" not in page
    assert page.count("&quot;&gt;&lt;script&gt;") == 3  # state, username and message, all escaped
    assert "&lt;b&gt;UI&lt;/b&gt;" in page
    hidden = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page))
    assert hidden[CSRF_FIELD] == "signed"
    assert hidden["client_id"] == "flow-web" and "extra" not in hidden
    assert 'action="/oauth2/authorize"' in page and "Dataflow" in page


def test_error_page_escapes_its_message() -> None:
    page = render_error_page(title="t", message="<img src=x>", detail="<i>")
    assert "<img" not in page and "&lt;img src=x&gt;" in page and "&lt;i&gt;" in page


def test_content_security_policy_allows_exactly_the_inline_style_and_the_redirect() -> None:
    page = render_login_page(params={}, csrf_token="t", client_name="UI")
    style = re.search(r"<style>(.*)</style>", page, re.S)
    assert style is not None
    digest = base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
    assert f"'sha256-{digest}'" == STYLE_SOURCE
    policy = content_security_policy("http://127.0.0.1:8080")
    assert "default-src 'none'" in policy and f"style-src {STYLE_SOURCE}" in policy
    assert "form-action 'self' http://127.0.0.1:8080;" in policy and "frame-ancestors 'none'" in policy
    assert "form-action 'self';" in content_security_policy(None)


def test_failures_block_only_while_enough_of_them_are_in_the_window() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    failures = [now - timedelta(seconds=s) for s in (5, 10, 20, 50, 70)]  # four inside a 60 s window
    assert retry_after(failures, limit=5, window_s=60, now=now) is None
    assert retry_after(failures, limit=4, window_s=60, now=now) == 10  # the 50 s old one leaves in 10 s
    assert retry_after(failures, limit=2, window_s=60, now=now) == 50  # one may stay: the 10 s old leaves in 50 s
    assert retry_after([now] * 3, limit=3, window_s=60, now=now) == 60


def test_failure_keys_ignore_case_and_separate_addresses() -> None:
    assert account_key("Ana") == account_key(" ana ")
    assert address_key("ana", "10.0.0.1") != address_key("ana", "10.0.0.2")
    assert "ana" not in account_key("ana") and "10.0.0.1" not in address_key("ana", "10.0.0.1")
