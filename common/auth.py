"""The OAuth2 resource-server guard every service uses.

A bearer token is a JWT signed by the issuer (ES256 or RS256). Validation
checks, in order: the header names an allowed algorithm and a key id; the key
is in the issuer's JWKS (fetched once and cached; an unknown ``kid`` triggers a
refetch, at most once per ``oauth_jwks_min_refresh_s``, which is how a rotated
key is picked up); the signature; ``iss``, ``aud``, ``exp`` and ``nbf`` (with
a small clock-skew leeway). Scopes come from the space-separated ``scope``
claim. Successful validations are cached by token until shortly before the
token expires, so the signature is verified once per token, not per request.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, KeySet, RSAKey

from common.errors import DependencyUnavailable, Unauthenticated
from common.scopes import parse_scopes

log = logging.getLogger(__name__)

ALLOWED_ALGORITHMS = frozenset({"ES256", "RS256"})

SigningKey = ECKey | RSAKey


@dataclass(frozen=True, kw_only=True)
class Principal:
    """Who is calling: the token's subject, client and scopes."""

    subject: str
    client_id: str | None
    scopes: frozenset[str]
    token_id: str | None = None
    expires_at: float = 0.0
    claims: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def has_scopes(self, required: tuple[str, ...] | list[str]) -> bool:
        return all(scope in self.scopes for scope in required)


class KeySource(Protocol):
    """Where a validator finds the public key for a key id."""

    async def get_key(self, kid: str) -> SigningKey | None: ...


class JwksKeySource:
    """Public keys from the issuer's JWKS endpoint, cached.

    The cache is refreshed after ``cache_s`` seconds, or when a token names a
    key id we do not have (rate-limited by ``min_refresh_s``). If the issuer is
    unreachable, keys already cached keep working; with no keys at all the
    request gets a 503, since the token may well be valid.
    """

    def __init__(self, url: str, *, cache_s: float = 300.0, min_refresh_s: float = 5.0) -> None:
        self.url = url
        self.cache_s = cache_s
        self.min_refresh_s = min_refresh_s
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at = 0.0
        self._attempted_at = 0.0
        self._lock = asyncio.Lock()

    async def get_key(self, kid: str) -> SigningKey | None:
        now = time.monotonic()
        stale = now - self._fetched_at > self.cache_s
        unknown = kid not in self._keys and now - self._attempted_at > self.min_refresh_s
        if stale or unknown:
            await self._refresh()
        return self._keys.get(kid)

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._attempted_at < 0.05:
                return  # another request refreshed while we waited
            self._attempted_at = time.monotonic()
            try:
                async with httpx.AsyncClient(timeout=5.0) as client:
                    response = await client.get(self.url)
                    response.raise_for_status()
                    self._keys = keys_from_jwks(response.json())
                self._fetched_at = time.monotonic()
            except (httpx.HTTPError, ValueError, JoseError) as exc:
                log.warning("could not fetch JWKS from %s: %s", self.url, exc)
                if not self._keys:
                    raise DependencyUnavailable(
                        f"The token issuer's keys at {self.url} cannot be fetched right now; try again shortly"
                    ) from exc


def keys_from_jwks(document: dict[str, Any]) -> dict[str, SigningKey]:
    """The signing keys of a JWKS document, by key id."""
    key_set = KeySet.import_key_set(document)
    return {key.kid: key for key in key_set.keys if key.kid and isinstance(key, ECKey | RSAKey)}


def _b64url_json(segment: str) -> dict[str, Any]:
    padded = segment + "=" * (-len(segment) % 4)
    value = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


class TokenValidator:
    """Validates bearer tokens against an issuer, an audience and a key source."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        key_source: KeySource,
        leeway_s: int = 30,
        cache_size: int = 4096,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.audience = audience
        self.key_source = key_source
        self.leeway_s = leeway_s
        self._cache: OrderedDict[str, Principal] = OrderedDict()
        self._cache_size = cache_size

    async def validate(self, token: str) -> Principal:
        cache_key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()
        cached = self._cache.get(cache_key)
        if cached is not None:
            if cached.expires_at > time.time():
                self._cache.move_to_end(cache_key)
                return cached
            del self._cache[cache_key]
        principal = await self._validate_uncached(token)
        self._cache[cache_key] = principal
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return principal

    async def _validate_uncached(self, token: str) -> Principal:
        parts = token.split(".")
        if len(parts) != 3:
            raise Unauthenticated("The bearer token is not a JWT (expected three dot-separated parts)")
        try:
            header = _b64url_json(parts[0])
        except (ValueError, UnicodeDecodeError) as exc:
            raise Unauthenticated("The bearer token's header is not valid base64url JSON") from exc
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ALLOWED_ALGORITHMS:
            raise Unauthenticated(f"Token algorithm {alg!r} is not accepted; use one of {sorted(ALLOWED_ALGORITHMS)}")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("The token header has no key id ('kid')")
        key = await self.key_source.get_key(kid)
        if key is None:
            raise Unauthenticated(f"The token was signed with key {kid!r}, which the issuer does not publish")
        try:
            decoded = jwt.decode(token, key, algorithms=[alg])
        except BadSignatureError as exc:
            raise Unauthenticated("The token signature is invalid") from exc
        except (JoseError, ValueError) as exc:
            raise Unauthenticated(f"The token cannot be decoded: {exc}") from exc
        claims = decoded.claims
        self._check_claims(claims)
        expires_at = float(claims["exp"])
        return Principal(
            subject=str(claims.get("sub") or claims.get("client_id") or ""),
            client_id=claims.get("client_id"),
            scopes=parse_scopes(claims.get("scope")),
            token_id=claims.get("jti"),
            # Re-check expiry well before the real deadline so the cache never outlives the token.
            expires_at=min(expires_at, time.time() + 300),
            claims=claims,
        )

    def _check_claims(self, claims: dict[str, Any]) -> None:
        registry = jwt.JWTClaimsRegistry(
            leeway=self.leeway_s,
            iss={"essential": True, "value": self.issuer},
            aud={"essential": True, "value": self.audience},
            exp={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise Unauthenticated("The token has expired; request a new one") from exc
        except MissingClaimError as exc:
            raise Unauthenticated(f"The token lacks a required claim: {exc.description}") from exc
        except InvalidClaimError as exc:
            if exc.claim in ("nbf", "iat"):
                raise Unauthenticated("The token is not valid yet (nbf or iat in the future)") from exc
            raise Unauthenticated(f"The token's {exc.claim!r} claim does not match this service") from exc
        except JoseError as exc:
            raise Unauthenticated(f"The token's claims are not valid: {exc}") from exc


def bearer_token(authorization: str | None) -> str:
    """The token in an ``Authorization: Bearer ...`` header, or :class:`Unauthenticated`."""
    if not authorization:
        raise Unauthenticated("This endpoint needs a bearer token: send 'Authorization: Bearer <token>'")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("The Authorization header must be 'Bearer <token>'")
    return token.strip()
