"""Browser sign-in on the embedded authorization server: authorization code with PKCE, refresh, revocation.

Runs flow_automation alone (it is the issuer and has the flows API) as a real
process on the real MongoDB and Kafka, and talks to it as a browser and as
the web UI would: load the sign-in page, post its form with the CSRF token
and cookie, read the redirect, exchange the code, refresh, revoke.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from common.scopes import ALL_SCOPES, ROLE_SCOPES
from tests.integration.fixtures.platform import Platform, running_platform
from tests.integration.fixtures.servers import REPO

pytestmark = pytest.mark.integration

WEB_CLIENT = "flow-web"
CALLBACK = "http://127.0.0.1:8080/auth/callback"
OTHER_CALLBACK = "http://localhost:8080/auth/callback"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def issuer(real_servers: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(tmp_path_factory.mktemp("browser-login"), services=("flow_automation",)) as started:
        yield started
    problems = started.unexpected_errors()
    assert not problems, "flow_automation logged unexpected errors:\n" + "\n".join(problems)


# -- helpers -----------------------------------------------------------------------------------


def _pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def _user(issuer: Platform, role: str) -> str:
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    with issuer.client("flow_automation") as admin:
        response = admin.post("/api/v1/users", json={"username": username, "password": PASSWORD, "role": role})
    assert response.status_code == 201, response.text
    return username


def _hidden_fields(page: str) -> dict[str, str]:
    fields = re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', page)
    return {name: html.unescape(value) for name, value in fields}


def _authorize_params(challenge: str, **overrides: Any) -> dict[str, str]:
    params = {
        "response_type": "code",
        "client_id": WEB_CLIENT,
        "redirect_uri": CALLBACK,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": secrets.token_urlsafe(16),
    }
    params.update(overrides)
    return {name: value for name, value in params.items() if value is not None}


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects, like a browser tab we can inspect."""

    def __init__(self, issuer: Platform) -> None:
        self.http = httpx.Client(base_url=issuer.issuer, follow_redirects=False, timeout=30)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def open_sign_in(self, params: dict[str, str]) -> httpx.Response:
        return self.http.get("/oauth2/authorize", params=params)

    def submit(self, page: httpx.Response, username: str, password: str) -> httpx.Response:
        assert page.status_code in (200, 400, 401, 429), page.text
        return self.http.post(
            "/oauth2/authorize", data={**_hidden_fields(page.text), "username": username, "password": password}
        )


def _sign_in(issuer: Platform, username: str, *, scope: str | None = None) -> dict[str, str]:
    """Sign in through the page; returns the code, state, verifier and redirect URI."""
    verifier, challenge = _pkce()
    params = _authorize_params(challenge, scope=scope)
    with Browser(issuer) as browser:
        page = browser.open_sign_in(params)
        assert page.status_code == 200, page.text
        redirect = browser.submit(page, username, PASSWORD)
    assert redirect.status_code == 302, redirect.text
    location = redirect.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [params["state"]]
    return {"code": query["code"][0], "verifier": verifier, "redirect_uri": CALLBACK}


def _exchange(issuer: Platform, signed_in: dict[str, str], **overrides: str) -> httpx.Response:
    data = {
        "grant_type": "authorization_code",
        "code": signed_in["code"],
        "redirect_uri": signed_in["redirect_uri"],
        "client_id": WEB_CLIENT,
        "code_verifier": signed_in["verifier"],
        **overrides,
    }
    return httpx.post(f"{issuer.issuer}/oauth2/token", data=data, timeout=30)


def _tokens(issuer: Platform, username: str, *, scope: str | None = None) -> dict[str, Any]:
    response = _exchange(issuer, _sign_in(issuer, username, scope=scope))
    assert response.status_code == 200, response.text
    return response.json()


def _refresh(issuer: Platform, refresh_token: str) -> httpx.Response:
    return httpx.post(
        f"{issuer.issuer}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": WEB_CLIENT},
        timeout=30,
    )


def _revoke(issuer: Platform, token: str, hint: str | None = None) -> httpx.Response:
    data = {"token": token, "client_id": WEB_CLIENT, **({"token_type_hint": hint} if hint else {})}
    return httpx.post(f"{issuer.issuer}/oauth2/revoke", data=data, timeout=30)


def _me(issuer: Platform, access_token: str) -> httpx.Response:
    return httpx.get(f"{issuer.issuer}/api/v1/me", headers={"Authorization": f"Bearer {access_token}"}, timeout=30)


def _assert_invalid_grant(response: httpx.Response, fragment: str = "") -> None:
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_grant", response.text
    assert fragment in response.json().get("error_description", ""), response.text


def _assert_error_page(response: httpx.Response, fragment: str) -> None:
    assert response.status_code == 400, response.text
    assert "Location" not in response.headers
    assert response.headers["Content-Type"].startswith("text/html")
    assert fragment in html.unescape(response.text), response.text


def _redirected_error(response: httpx.Response, state: str) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == [state] and "code" not in query
    return query


# -- the flow ----------------------------------------------------------------------------------


def test_code_flow_with_pkce_signs_a_person_in(issuer: Platform) -> None:
    username = _user(issuer, "admin")
    verifier, challenge = _pkce()
    params = _authorize_params(challenge)
    with Browser(issuer) as browser:
        page = browser.open_sign_in(params)
        assert page.status_code == 200, page.text
        assert page.headers["Content-Type"].startswith("text/html")
        assert "Dataflow" in page.text and 'name="username"' in page.text and 'name="password"' in page.text
        assert 'action="/oauth2/authorize"' in page.text
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert "<script" not in page.text and " src=" not in page.text and " href=" not in page.text
        hidden = _hidden_fields(page.text)
        assert {name: hidden[name] for name in params} == params
        assert hidden["csrf_token"] and "dataflow_signin" in browser.http.cookies
        redirect = browser.submit(page, username, PASSWORD)
    assert redirect.status_code == 302, redirect.text
    query = parse_qs(urlsplit(redirect.headers["Location"]).query)
    assert query["state"] == [params["state"]]

    response = _exchange(issuer, {"code": query["code"][0], "verifier": verifier, "redirect_uri": CALLBACK})
    assert response.status_code == 200, response.text
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] > 0 and body["refresh_token"]
    assert body["scope"].split() == sorted(ALL_SCOPES)
    me = _me(issuer, body["access_token"])
    assert me.status_code == 200, me.text
    assert me.json() == {
        "service": "flow_automation",
        "subject": username,
        "client_id": WEB_CLIENT,
        "role": "admin",
        "scopes": sorted(ALL_SCOPES),
    }


def test_requested_scopes_narrow_the_token(issuer: Platform) -> None:
    tokens = _tokens(issuer, _user(issuer, "editor"), scope="flows:read cron:read admin")
    assert tokens["scope"] == "cron:read flows:read"  # admin is not the editor role's to give


def test_viewer_gets_viewer_scopes_and_cannot_write_flows(issuer: Platform) -> None:
    username = _user(issuer, "viewer")
    tokens = _tokens(issuer, username)
    assert tokens["scope"].split() == sorted(ROLE_SCOPES["viewer"])
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    listed = httpx.get(f"{issuer.issuer}/api/v1/flows", headers=headers, timeout=30)
    assert listed.status_code == 200, listed.text
    created = httpx.post(
        f"{issuer.issuer}/api/v1/flows",
        headers=headers,
        json={"name": "not allowed", "nodes": [{"id": "a", "type": "noop"}]},
        timeout=30,
    )
    assert created.status_code == 403, created.text
    assert created.json()["error"]["code"] == "insufficient_scope"
    assert _me(issuer, tokens["access_token"]).json()["role"] == "viewer"


def test_viewer_asking_only_for_write_scopes_is_denied(issuer: Platform) -> None:
    _, challenge = _pkce()
    params = _authorize_params(challenge, scope="flows:write")
    with Browser(issuer) as browser:
        redirect = browser.submit(browser.open_sign_in(params), _user(issuer, "viewer"), PASSWORD)
    assert _redirected_error(redirect, params["state"])["error"] == ["access_denied"]


# -- the code ----------------------------------------------------------------------------------


def test_wrong_verifier_is_refused_and_the_right_one_still_works(issuer: Platform) -> None:
    signed_in = _sign_in(issuer, _user(issuer, "editor"))
    _assert_invalid_grant(_exchange(issuer, signed_in, code_verifier=_pkce()[0]), "Code challenge failed")
    missing = _exchange(issuer, signed_in, code_verifier="")
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request", missing.text
    assert _exchange(issuer, signed_in).status_code == 200


def test_code_is_single_use_and_reuse_revokes_its_session(issuer: Platform) -> None:
    signed_in = _sign_in(issuer, _user(issuer, "editor"))
    first = _exchange(issuer, signed_in)
    assert first.status_code == 200, first.text
    _assert_invalid_grant(_exchange(issuer, signed_in), "used already")
    _assert_invalid_grant(_refresh(issuer, first.json()["refresh_token"]))


def test_expired_code_is_refused(issuer: Platform) -> None:
    signed_in = _sign_in(issuer, _user(issuer, "editor"))
    code_id = hashlib.sha256(signed_in["code"].encode()).hexdigest()
    stored = issuer.mongo_db().oauth_authorization_codes.find_one({"_id": code_id})
    assert stored is not None and "code" not in stored  # only the digest is kept
    assert timedelta(seconds=55) <= stored["expires_at"] - stored["created_at"] <= timedelta(seconds=60)
    issuer.mongo_db().oauth_authorization_codes.update_one(
        {"_id": code_id}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    _assert_invalid_grant(_exchange(issuer, signed_in), "expired")


def test_code_is_bound_to_its_redirect_uri_and_client(issuer: Platform) -> None:
    other_client = f"other-web-{uuid.uuid4().hex[:6]}"
    issuer.mongo_db().oauth_clients.insert_one(
        {
            "_id": other_client,
            "client_id": other_client,
            "name": "Another public client",
            "secret_hash": None,
            "scopes": list(ALL_SCOPES),
            "grant_types": ["authorization_code", "refresh_token"],
            "redirect_uris": [CALLBACK, OTHER_CALLBACK],
            "first_party": True,
            "disabled": False,
            "created_at": datetime.now(UTC),
        }
    )
    signed_in = _sign_in(issuer, _user(issuer, "editor"))
    _assert_invalid_grant(_exchange(issuer, signed_in, redirect_uri=OTHER_CALLBACK), "redirect_uri")
    _assert_invalid_grant(_exchange(issuer, signed_in, client_id=other_client), "code")
    assert _exchange(issuer, signed_in).status_code == 200


# -- requests that cannot proceed ----------------------------------------------------------------


def test_unknown_client_and_unregistered_redirect_uri_get_an_error_page_not_a_redirect(issuer: Platform) -> None:
    _, challenge = _pkce()
    with Browser(issuer) as browser:
        unknown = browser.open_sign_in(_authorize_params(challenge, client_id="no-such-client"))
        _assert_error_page(unknown, "No application is registered as 'no-such-client'")
        evil = browser.open_sign_in(_authorize_params(challenge, redirect_uri="https://evil.example/cb"))
        _assert_error_page(evil, "https://evil.example/cb")
        posted = browser.http.post(
            "/oauth2/authorize",
            data={**_authorize_params(challenge, redirect_uri="https://evil.example/cb"), "username": "a"},
        )
        _assert_error_page(posted, "not registered")
        confidential = browser.open_sign_in(_authorize_params(challenge, client_id=issuer.credentials["client_id"]))
        _assert_error_page(confidential, "redirect")
        nothing = browser.http.get("/oauth2/authorize")
        _assert_error_page(nothing, "client_id is missing")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),
        ({"code_challenge": "short"}, "invalid_request"),
        ({"scope": "flows:read root"}, "invalid_scope"),
    ],
)
def test_other_request_errors_redirect_to_the_client(
    issuer: Platform, overrides: dict[str, str | None], error: str
) -> None:
    _, challenge = _pkce()
    params = _authorize_params(challenge, **overrides)
    with Browser(issuer) as browser:
        response = browser.open_sign_in(params)
    assert _redirected_error(response, params["state"])["error"] == [error]


# -- the sign-in form --------------------------------------------------------------------------


def test_wrong_password_shows_the_page_again(issuer: Platform) -> None:
    username = _user(issuer, "editor")
    _, challenge = _pkce()
    params = _authorize_params(challenge)
    with Browser(issuer) as browser:
        again = browser.submit(browser.open_sign_in(params), username, "not the password")
        assert again.status_code == 401, again.text
        assert "Location" not in again.headers
        assert "Wrong username or password." in again.text
        hidden = _hidden_fields(again.text)
        assert {name: hidden[name] for name in params} == params
        assert f'value="{username}"' in again.text
        unknown = browser.submit(again, "nobody-" + uuid.uuid4().hex[:6], PASSWORD)
        assert unknown.status_code == 401 and "Wrong username or password." in unknown.text
        # The page that came back works: the right password now signs in.
        assert browser.submit(unknown, username, PASSWORD).status_code == 302


def test_form_without_the_csrf_cookie_or_token_is_refused(issuer: Platform) -> None:
    username = _user(issuer, "editor")
    _, challenge = _pkce()
    params = _authorize_params(challenge)
    with Browser(issuer) as browser:
        page = browser.open_sign_in(params)
        fields = {**_hidden_fields(page.text), "username": username, "password": PASSWORD}
    # Another browser (no cookie) posting the same form, as a forged cross-site post would.
    with Browser(issuer) as forger:
        forged = forger.http.post("/oauth2/authorize", data=fields)
        assert forged.status_code == 400 and "Location" not in forged.headers
        assert "expired or did not come from this page" in forged.text
        tampered = forger.http.post("/oauth2/authorize", data={**fields, "csrf_token": "x" + fields["csrf_token"]})
        assert tampered.status_code == 400 and "Location" not in tampered.headers


def test_repeated_failures_are_throttled(issuer: Platform) -> None:
    username = _user(issuer, "editor")
    _, challenge = _pkce()
    with Browser(issuer) as browser:
        page = browser.open_sign_in(_authorize_params(challenge))
        for _ in range(10):
            page = browser.submit(page, username, "wrong password")
            assert page.status_code == 401, page.text
        blocked = browser.submit(page, username, PASSWORD)
        assert blocked.status_code == 429, blocked.text
        assert "Too many failed sign-ins" in blocked.text and "Location" not in blocked.headers
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
        # Someone else is not affected.
        assert browser.submit(blocked, _user(issuer, "editor"), PASSWORD).status_code == 302


def test_disabled_user_cannot_sign_in(issuer: Platform) -> None:
    username = _user(issuer, "editor")
    with issuer.client("flow_automation") as admin:
        assert admin.patch(f"/api/v1/users/{username}", json={"disabled": True}).status_code == 200
    _, challenge = _pkce()
    with Browser(issuer) as browser:
        refused = browser.submit(browser.open_sign_in(_authorize_params(challenge)), username, PASSWORD)
    assert refused.status_code == 403 and "disabled" in refused.text and "Location" not in refused.headers


# -- refresh and revocation --------------------------------------------------------------------


def test_refresh_rotates_the_refresh_token(issuer: Platform) -> None:
    username = _user(issuer, "editor")
    first = _tokens(issuer, username)
    refreshed = _refresh(issuer, first["refresh_token"])
    assert refreshed.status_code == 200, refreshed.text
    second = refreshed.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"] and second["scope"] == first["scope"]
    assert _me(issuer, second["access_token"]).json()["subject"] == username
    third = _refresh(issuer, second["refresh_token"])
    assert third.status_code == 200, third.text
    stored = issuer.mongo_db().oauth_refresh_tokens.find_one(
        {"_id": "rt:" + hashlib.sha256(third.json()["refresh_token"].encode()).hexdigest()}
    )
    assert stored is not None and third.json()["refresh_token"] not in str(stored)  # only digests are stored


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(issuer: Platform) -> None:
    first = _tokens(issuer, _user(issuer, "editor"))
    second = _refresh(issuer, first["refresh_token"]).json()
    _assert_invalid_grant(_refresh(issuer, first["refresh_token"]), "used already")
    _assert_invalid_grant(_refresh(issuer, second["refresh_token"]))


def test_refresh_token_expires(issuer: Platform) -> None:
    tokens = _tokens(issuer, _user(issuer, "editor"))
    token_id = "rt:" + hashlib.sha256(tokens["refresh_token"].encode()).hexdigest()
    stored = issuer.mongo_db().oauth_refresh_tokens.find_one({"_id": token_id})
    assert stored["expires_at"] - stored["issued_at"] == timedelta(days=14)
    issuer.mongo_db().oauth_refresh_tokens.update_one(
        {"_id": token_id}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    _assert_invalid_grant(_refresh(issuer, tokens["refresh_token"]), "expired")


def test_revoking_the_refresh_token_signs_out(issuer: Platform) -> None:
    tokens = _tokens(issuer, _user(issuer, "editor"))
    revoked = _revoke(issuer, tokens["refresh_token"], "refresh_token")
    assert revoked.status_code == 200, revoked.text
    _assert_invalid_grant(_refresh(issuer, tokens["refresh_token"]))
    assert _revoke(issuer, tokens["refresh_token"]).status_code == 200  # again: still 200
    assert _revoke(issuer, "never-issued").status_code == 200


def test_revoking_an_access_token_ends_its_session(issuer: Platform) -> None:
    tokens = _tokens(issuer, _user(issuer, "editor"))
    assert _revoke(issuer, tokens["access_token"], "access_token").status_code == 200
    _assert_invalid_grant(_refresh(issuer, tokens["refresh_token"]))


def test_revocation_needs_the_client_the_token_was_issued_to(issuer: Platform) -> None:
    tokens = _tokens(issuer, _user(issuer, "editor"))
    response = httpx.post(
        f"{issuer.issuer}/oauth2/revoke",
        data={"token": tokens["refresh_token"]},
        auth=(issuer.credentials["client_id"], issuer.credentials["client_secret"]),
        timeout=30,
    )
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant", response.text
    assert _refresh(issuer, tokens["refresh_token"]).status_code == 200


def test_role_change_or_deletion_ends_sessions(issuer: Platform) -> None:
    username = _user(issuer, "editor")
    changed_in_store = _tokens(issuer, username)
    # A role changed behind the API's back (another tool, a restore) is caught on refresh.
    issuer.mongo_db().users.update_one({"username": username}, {"$set": {"role": "viewer"}})
    _assert_invalid_grant(_refresh(issuer, changed_in_store["refresh_token"]), "role changed")

    viewer_tokens = _tokens(issuer, username)
    assert viewer_tokens["scope"].split() == sorted(ROLE_SCOPES["viewer"])
    with issuer.client("flow_automation") as admin:
        changed = admin.patch(f"/api/v1/users/{username}", json={"role": "editor"})
        assert changed.status_code == 200 and changed.json()["role"] == "editor", changed.text
    _assert_invalid_grant(_refresh(issuer, viewer_tokens["refresh_token"]))

    # A new password ends the sessions even though the scopes stay the same.
    before_password_change = _tokens(issuer, username)
    with issuer.client("flow_automation") as admin:
        assert admin.patch(f"/api/v1/users/{username}", json={"password": PASSWORD + "!"}).status_code == 200
        assert admin.patch(f"/api/v1/users/{username}", json={"password": PASSWORD}).status_code == 200
    _assert_invalid_grant(_refresh(issuer, before_password_change["refresh_token"]), "revoked")

    editor_tokens = _tokens(issuer, username)
    with issuer.client("flow_automation") as admin:
        assert admin.delete(f"/api/v1/users/{username}").status_code == 204
        assert admin.get(f"/api/v1/users/{username}").status_code == 404
    _assert_invalid_grant(_refresh(issuer, editor_tokens["refresh_token"]))


# -- clients and metadata ----------------------------------------------------------------------


def test_public_client_cannot_use_client_credentials(issuer: Platform) -> None:
    response = httpx.post(
        f"{issuer.issuer}/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": WEB_CLIENT},
        timeout=30,
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unauthorized_client", response.text
    assert "access_token" not in response.json()
    with_a_made_up_secret = httpx.post(
        f"{issuer.issuer}/oauth2/token", data={"grant_type": "client_credentials"}, auth=(WEB_CLIENT, "x"), timeout=30
    )
    assert with_a_made_up_secret.status_code == 401, with_a_made_up_secret.text
    assert with_a_made_up_secret.json()["error"] == "invalid_client"


def test_web_client_is_registered_as_a_public_first_party_client(issuer: Platform) -> None:
    with issuer.client("flow_automation") as admin:
        response = admin.get(f"/api/v1/clients/{WEB_CLIENT}")
    assert response.status_code == 200, response.text
    client = response.json()
    assert client["grant_types"] == ["authorization_code", "refresh_token"]
    assert client["redirect_uris"] == [CALLBACK, OTHER_CALLBACK]
    assert client["first_party"] is True and sorted(client["scopes"]) == sorted(ALL_SCOPES)
    stored = issuer.mongo_db().oauth_clients.find_one({"client_id": WEB_CLIENT})
    assert stored["secret_hash"] is None


def test_bootstrap_brings_the_web_client_in_line_with_the_settings(issuer: Platform) -> None:
    def bootstrap(extra_env: dict[str, str]) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "flow_automation.cli", "bootstrap"],
            cwd=REPO,
            env={**issuer.env, **extra_env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    def redirect_uris() -> list[str]:
        return issuer.mongo_db().oauth_clients.find_one({"client_id": WEB_CLIENT})["redirect_uris"]

    moved = "https://dataflow.example.com/auth/callback"
    assert moved in bootstrap({"DATAFLOW_WEB_REDIRECT_URIS": f" {moved} ,"})
    assert redirect_uris() == [moved]
    _, challenge = _pkce()
    with Browser(issuer) as browser:
        _assert_error_page(browser.open_sign_in(_authorize_params(challenge)), "not registered")
    bootstrap({})
    credentials = (issuer.state_dir / "credentials.json").read_text()
    bootstrap({})
    assert redirect_uris() == [CALLBACK, OTHER_CALLBACK]
    assert (issuer.state_dir / "credentials.json").read_text() == credentials
    assert issuer.mongo_db().oauth_clients.count_documents({"client_id": WEB_CLIENT}) == 1


def test_discovery_describes_browser_sign_in(issuer: Platform) -> None:
    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        metadata = httpx.get(issuer.issuer + path, timeout=30).json()
        assert metadata["authorization_endpoint"] == f"{issuer.issuer}/oauth2/authorize"
        assert metadata["revocation_endpoint"] == f"{issuer.issuer}/oauth2/revoke"
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        assert {"authorization_code", "refresh_token", "client_credentials"} <= set(metadata["grant_types_supported"])
        assert metadata["response_types_supported"] == ["code"]
        assert "none" in metadata["token_endpoint_auth_methods_supported"]


def test_openapi_documents_the_new_endpoints(issuer: Platform) -> None:
    document = httpx.get(issuer.issuer + "/openapi.json", timeout=30).json()
    assert "text/html" in document["paths"]["/oauth2/authorize"]["get"]["responses"]["200"]["content"]
    assert document["paths"]["/oauth2/revoke"]["post"]["security"] == []
    assert "role" in document["components"]["schemas"]["WhoAmI"]["properties"]
    assert "/api/v1/me" in document["paths"]
