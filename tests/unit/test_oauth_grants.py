"""Decisions of the browser grants that need no server: scopes, PKCE rules, client rules, expiry."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from authlib.oauth2.rfc6749.errors import InvalidRequestError

from common.scopes import ALL_SCOPES, ROLE_SCOPES
from flow_automation.identity.accounts import OAuthClient, digest
from flow_automation.identity.authorization import AuthlibClient
from flow_automation.identity.codes import AuthorizationCode
from flow_automation.identity.grants import S256CodeChallenge, granted_scope
from flow_automation.identity.refresh_tokens import RefreshToken

CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"  # RFC 7636 appendix B


def _client(*, public: bool, grants: tuple[str, ...]) -> AuthlibClient:
    return AuthlibClient(
        OAuthClient(
            client_id="c",
            name="c",
            secret_hash=None if public else "$argon2id$stub",
            scopes=ALL_SCOPES,
            grant_types=grants,
            redirect_uris=("http://127.0.0.1:8080/auth/callback",),
            created_at=datetime.now(UTC),
        )
    )


def _grant(**data: str) -> SimpleNamespace:
    payload = SimpleNamespace(data=data, datalist=defaultdict(list, {k: [v] for k, v in data.items()}))
    return SimpleNamespace(request=SimpleNamespace(payload=payload))


def test_granted_scopes_are_the_requested_ones_the_role_has() -> None:
    assert granted_scope("flows:read flows:write admin", "editor") == "flows:read flows:write"
    assert granted_scope(" ".join(ALL_SCOPES), "viewer") == " ".join(sorted(ROLE_SCOPES["viewer"]))
    assert granted_scope("flows:write", "viewer") == ""
    assert granted_scope("flows:read", "no-such-role") == ""
    assert granted_scope(None, "admin") == ""


def test_pkce_requires_an_s256_challenge() -> None:
    pkce = S256CodeChallenge(required=True)
    pkce.validate_code_challenge(_grant(code_challenge=CHALLENGE, code_challenge_method="S256"), "uri")
    for data in (
        {},
        {"code_challenge": CHALLENGE},
        {"code_challenge": CHALLENGE, "code_challenge_method": "plain"},
        {"code_challenge_method": "S256"},
        {"code_challenge": "too-short", "code_challenge_method": "S256"},
    ):
        with pytest.raises(InvalidRequestError):
            pkce.validate_code_challenge(_grant(**data), "uri")


def test_pkce_verifies_with_s256_only() -> None:
    verify = S256CodeChallenge.CODE_CHALLENGE_METHODS
    assert set(verify) == {"S256"}
    assert verify["S256"]("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", CHALLENGE)
    assert not verify["S256"](CHALLENGE, CHALLENGE)


def test_public_client_may_not_use_client_credentials() -> None:
    web = _client(public=True, grants=("authorization_code", "refresh_token", "client_credentials"))
    assert not web.check_grant_type("client_credentials")
    assert web.check_grant_type("authorization_code") and web.check_grant_type("refresh_token")
    assert web.check_endpoint_auth_method("none", "token")
    assert not web.check_endpoint_auth_method("client_secret_basic", "token")
    service = _client(public=False, grants=("client_credentials",))
    assert service.check_grant_type("client_credentials") and not service.check_grant_type("refresh_token")
    assert not service.check_endpoint_auth_method("none", "token")


def test_codes_and_refresh_tokens_expire_and_belong_to_one_client() -> None:
    now = datetime.now(UTC)
    code = AuthorizationCode(
        _id=digest("code"),
        client_id="flow-web",
        redirect_uri=None,
        username="ana",
        scope="flows:read",
        requested_scope="flows:read",
        code_challenge=CHALLENGE,
        code_challenge_method="S256",
        created_at=now,
        expires_at=now + timedelta(seconds=60),
    )
    assert not code.is_expired(now) and code.is_expired(now + timedelta(seconds=60))
    assert code.family_id == digest("code") != "code"
    token = RefreshToken(
        token_id=digest("rt"),
        family_id=code.family_id,
        client_id="flow-web",
        username="ana",
        scope="flows:read",
        requested_scope="flows:read",
        issued_at=now,
        expires_at=now + timedelta(days=14),
    )
    assert token.check_client(_client(public=True, grants=("refresh_token",))) is False  # client id "c"
    assert token.check_client(SimpleNamespace(get_client_id=lambda: "flow-web"))
    assert token.is_expired(now + timedelta(days=14, seconds=1))
