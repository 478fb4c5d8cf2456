"""OAuth2 end to end: tokens from the embedded server, checked by every service's guard."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from pymongo import MongoClient

from tests.integration.fixtures.mongo import MONGO_URL
from tests.integration.fixtures.platform import SERVICES, Platform

pytestmark = pytest.mark.integration

#: A route per service that needs a specific scope, and that scope.
SCOPED_ROUTES = {
    "flow_automation": ("/api/v1/audit", "admin"),
    "coderunner": ("/api/v1/packages", "admin"),
    "ecron": ("/api/v1/jobs", "cron:read"),
    "stream_pipeline": ("/api/v1/pipelines", "streams:read"),
}


def _signing_key(platform: Platform) -> tuple[str, ECKey]:
    """The issuer's current private key, read from its store, to mint tokens with chosen claims."""
    with MongoClient(MONGO_URL) as client:
        document = client[platform.database].oauth_signing_keys.find_one(sort=[("generation", -1)])
    assert document is not None
    return document["_id"], ECKey.import_key(document["private_jwk"])


def _mint(platform: Platform, key: ECKey | None = None, kid: str | None = None, **overrides: Any) -> str:
    real_kid, real_key = _signing_key(platform)
    now = int(time.time())
    claims = {
        "iss": platform.issuer,
        "sub": "tester",
        "aud": "dataflow",
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "client_id": "tester",
        "scope": "admin cron:read streams:read flows:read",
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode({"alg": "ES256", "kid": kid or real_kid}, claims, key or real_key)


def _get(platform: Platform, service: str, path: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(platform.url(service) + path, headers=headers, timeout=10)


def _assert_invalid_token(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].startswith("Bearer ")
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert response.json()["error"]["code"] == "unauthenticated"


def test_discovery_and_jwks_describe_the_issuer(platform: Platform) -> None:
    metadata = httpx.get(f"{platform.issuer}/.well-known/openid-configuration", timeout=10).json()
    assert metadata["issuer"] == platform.issuer
    assert metadata["token_endpoint"] == f"{platform.issuer}/oauth2/token"
    assert "client_credentials" in metadata["grant_types_supported"]
    keys = httpx.get(metadata["jwks_uri"], timeout=10).json()["keys"]
    assert keys and all("d" not in key for key in keys), "the JWKS must never publish private key material"


@pytest.mark.parametrize("service", SERVICES)
def test_client_credentials_token_is_accepted_by_every_service(platform: Platform, service: str) -> None:
    response = _get(platform, service, "/api/v1/whoami", platform.token())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"] == service
    assert body["client_id"] == platform.credentials["client_id"]
    assert "admin" in body["scopes"]


@pytest.mark.parametrize("service", list(SCOPED_ROUTES))
def test_scoped_route_accepts_a_token_with_its_scope(platform: Platform, service: str) -> None:
    path, scope = SCOPED_ROUTES[service]
    response = _get(platform, service, path, platform.token(scope))
    assert response.status_code == 200, response.text
    assert isinstance(response.json()["items"], list)


@pytest.mark.parametrize("service", list(SCOPED_ROUTES))
def test_under_scoped_token_is_refused_with_403(platform: Platform, service: str) -> None:
    path, scope = SCOPED_ROUTES[service]
    response = _get(platform, service, path, platform.token("flows:read"))
    assert response.status_code == 403, response.text
    assert response.json()["error"]["code"] == "insufficient_scope"
    header = response.headers["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in header and scope in header


@pytest.mark.parametrize("service", SERVICES)
def test_missing_token_is_refused_with_401(platform: Platform, service: str) -> None:
    _assert_invalid_token(_get(platform, service, "/api/v1/whoami", None))


@pytest.mark.parametrize("service", SERVICES)
def test_expired_token_is_refused(platform: Platform, service: str) -> None:
    token = _mint(platform, exp=int(time.time()) - 3600, iat=int(time.time()) - 7200, nbf=int(time.time()) - 7200)
    response = _get(platform, service, "/api/v1/whoami", token)
    _assert_invalid_token(response)
    assert "expired" in response.json()["error"]["message"]


@pytest.mark.parametrize("service", SERVICES)
def test_token_signed_by_another_key_is_refused(platform: Platform, service: str) -> None:
    impostor = ECKey.generate_key("P-256", private=True)
    real_kid, _ = _signing_key(platform)
    _assert_invalid_token(_get(platform, service, "/api/v1/whoami", _mint(platform, key=impostor, kid=real_kid)))
    _assert_invalid_token(_get(platform, service, "/api/v1/whoami", _mint(platform, key=impostor, kid="not-a-key")))


@pytest.mark.parametrize("service", SERVICES)
def test_wrong_audience_and_issuer_are_refused(platform: Platform, service: str) -> None:
    _assert_invalid_token(_get(platform, service, "/api/v1/whoami", _mint(platform, aud="someone-else")))
    _assert_invalid_token(_get(platform, service, "/api/v1/whoami", _mint(platform, iss="http://evil.invalid")))


def test_token_without_expiry_or_not_yet_valid_is_refused(platform: Platform) -> None:
    _assert_invalid_token(_get(platform, "ecron", "/api/v1/whoami", _mint(platform, exp=None)))
    future = int(time.time()) + 3600
    _assert_invalid_token(_get(platform, "ecron", "/api/v1/whoami", _mint(platform, nbf=future)))


def test_unsigned_and_garbage_tokens_are_refused(platform: Platform) -> None:
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none", "kid": "x"}).encode()).rstrip(b"=").decode()
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "x", "scope": "admin"}).encode()).rstrip(b"=").decode()
    for token in (f"{header}.{payload}.", "garbage", "a.b.c", "Zm9v.YmFy.YmF6"):
        _assert_invalid_token(_get(platform, "coderunner", "/api/v1/whoami", token))
    response = httpx.get(
        platform.url("coderunner") + "/api/v1/whoami", headers={"Authorization": "Basic Zm9vOmJhcg=="}, timeout=10
    )
    _assert_invalid_token(response)


def test_token_endpoint_refuses_bad_credentials_in_oauth_format(platform: Platform) -> None:
    url = f"{platform.issuer}/oauth2/token"
    wrong_secret = httpx.post(
        url, data={"grant_type": "client_credentials"}, auth=(platform.credentials["client_id"], "nope"), timeout=10
    )
    assert wrong_secret.status_code == 401
    assert wrong_secret.json()["error"] == "invalid_client"
    unknown = httpx.post(url, data={"grant_type": "client_credentials"}, auth=("nobody", "x"), timeout=10)
    assert unknown.status_code == 401
    bad_grant = httpx.post(
        url,
        data={"grant_type": "password", "username": "a", "password": "b"},
        auth=(platform.credentials["client_id"], platform.credentials["client_secret"]),
        timeout=10,
    )
    assert bad_grant.status_code == 400
    assert bad_grant.json()["error"] == "unsupported_grant_type"
    bad_scope = httpx.post(
        url,
        data={"grant_type": "client_credentials", "scope": "flows:read root"},
        auth=(platform.credentials["client_id"], platform.credentials["client_secret"]),
        timeout=10,
    )
    assert bad_scope.status_code == 400
    assert bad_scope.json()["error"] == "invalid_scope"


def test_client_secret_post_is_supported_and_scopes_are_narrowed(platform: Platform) -> None:
    response = httpx.post(
        f"{platform.issuer}/oauth2/token",
        data={
            "grant_type": "client_credentials",
            "client_id": platform.credentials["client_id"],
            "client_secret": platform.credentials["client_secret"],
            "scope": "cron:read",
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["scope"] == "cron:read" and body["expires_in"] > 0
    assert response.headers["Cache-Control"] == "no-store"
    whoami = _get(platform, "ecron", "/api/v1/whoami", body["access_token"]).json()
    assert whoami["scopes"] == ["cron:read"]


def test_client_limited_to_some_scopes_cannot_request_others(platform: Platform) -> None:
    with platform.client("flow_automation") as admin:
        created = admin.post("/api/v1/clients", json={"name": "reporting script", "scopes": ["flows:read"]})
    assert created.status_code == 201, created.text
    client_id, secret = created.json()["client_id"], created.json()["client_secret"]
    url = f"{platform.issuer}/oauth2/token"
    ok = httpx.post(url, data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=10)
    assert ok.status_code == 200 and ok.json()["scope"] == "flows:read"
    refused = httpx.post(
        url, data={"grant_type": "client_credentials", "scope": "admin"}, auth=(client_id, secret), timeout=10
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
