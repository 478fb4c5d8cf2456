"""The resource-server guard's decisions, with keys held in memory (pure logic, no server)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import ECKey, OctKey, RSAKey

from common.auth import TokenValidator, bearer_token
from common.errors import Unauthenticated

ISSUER = "http://issuer.test"


class StaticKeys:
    def __init__(self, keys: dict[str, Any]) -> None:
        self.keys = keys
        self.lookups = 0

    async def get_key(self, kid: str) -> Any:
        self.lookups += 1
        return self.keys.get(kid)


def _key(kid: str = "k1") -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid}, private=True)


def _token(key: Any, alg: str = "ES256", kid: str = "k1", **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": "dataflow", "sub": "svc", "exp": now + 60, "scope": "flows:read", **claims}
    return jwt.encode({"alg": alg, "kid": kid}, {k: v for k, v in payload.items() if v is not None}, key)


def _validate(validator: TokenValidator, token: str) -> Any:
    return asyncio.run(validator.validate(token))


def test_valid_token_gives_principal_and_is_cached() -> None:
    key = _key()
    keys = StaticKeys({"k1": key})
    validator = TokenValidator(issuer=ISSUER, audience="dataflow", key_source=keys)
    token = _token(key, client_id="svc")
    principal = _validate(validator, token)
    assert principal.subject == "svc" and principal.client_id == "svc" and principal.scopes == {"flows:read"}
    assert principal.has_scopes(["flows:read"]) and not principal.has_scopes(["admin"])
    _validate(validator, token)
    assert keys.lookups == 1


def test_rsa_tokens_are_accepted_too() -> None:
    key = RSAKey.generate_key(2048, parameters={"kid": "r1"}, private=True)
    validator = TokenValidator(issuer=ISSUER, audience="dataflow", key_source=StaticKeys({"r1": key}))
    assert _validate(validator, _token(key, alg="RS256", kid="r1")).subject == "svc"


@pytest.mark.parametrize(
    ("claims", "fragment"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"aud": "other"}, "'aud'"),
        ({"iss": "http://evil"}, "'iss'"),
        ({"exp": None}, "exp"),
        ({"nbf": int(time.time()) + 600}, "not valid yet"),
    ],
)
def test_bad_claims_are_refused(claims: dict[str, Any], fragment: str) -> None:
    key = _key()
    validator = TokenValidator(issuer=ISSUER, audience="dataflow", key_source=StaticKeys({"k1": key}))
    with pytest.raises(Unauthenticated) as refused:
        _validate(validator, _token(key, **claims))
    assert fragment in refused.value.message


def test_small_clock_skew_is_tolerated() -> None:
    key = _key()
    validator = TokenValidator(issuer=ISSUER, audience="dataflow", key_source=StaticKeys({"k1": key}), leeway_s=30)
    assert _validate(validator, _token(key, exp=int(time.time()) - 5))


def test_wrong_key_unknown_kid_and_bad_algorithms_are_refused() -> None:
    key = _key()
    validator = TokenValidator(issuer=ISSUER, audience="dataflow", key_source=StaticKeys({"k1": key}))
    with pytest.raises(Unauthenticated, match="signature"):
        _validate(validator, _token(_key()))
    with pytest.raises(Unauthenticated, match="does not publish"):
        _validate(validator, _token(key, kid="k9"))
    hs_token = jwt.encode({"alg": "HS256", "kid": "k1"}, {"sub": "x"}, OctKey.import_key("s" * 32))
    with pytest.raises(Unauthenticated, match="algorithm"):
        _validate(validator, hs_token)
    for garbage in ("abc", "a.b.c", "e30.e30.", ""):
        with pytest.raises(Unauthenticated):
            _validate(validator, garbage)


def test_bearer_header_parsing() -> None:
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer   abc ") == "abc"
    for header in (None, "", "Basic abc", "Bearer ", "Token abc"):
        with pytest.raises(Unauthenticated):
            bearer_token(header)
