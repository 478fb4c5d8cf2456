"""Service-to-service calls: a client-credentials token, fetched once and reused.

Services call each other with their own tokens (ARCHITECTURE.md). The client
comes from ``DATAFLOW_SERVICE_CLIENT_ID`` / ``DATAFLOW_SERVICE_CLIENT_SECRET``;
when those are unset (a developer's machine after ``make up``), from the
development client in ``<state dir>/credentials.json`` that ``dataflow
bootstrap`` writes. :class:`ServiceTokenAuth` is an ``httpx.Auth``: hand it to a
sync or an async ``httpx`` client and every request carries a valid token; a
401 answer refreshes the token once (the issuer's keys may have rotated).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncGenerator, Generator
from dataclasses import dataclass
from typing import Any

import httpx

from common.errors import DependencyUnavailable
from common.settings import Settings

#: Renew a token this long before it expires.
EXPIRY_MARGIN_S = 60.0


@dataclass(frozen=True)
class ServiceCredentials:
    client_id: str
    client_secret: str
    token_url: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceCredentials:
        token_url = f"{settings.oauth_issuer.rstrip('/')}/oauth2/token"
        if settings.service_client_id and settings.service_client_secret:
            return cls(settings.service_client_id, settings.service_client_secret, token_url)
        path = settings.credentials_path
        try:
            stored = json.loads(path.read_text())
            return cls(stored["client_id"], stored["client_secret"], token_url)
        except (OSError, ValueError, KeyError) as exc:
            raise DependencyUnavailable(
                "no service credentials: set DATAFLOW_SERVICE_CLIENT_ID and DATAFLOW_SERVICE_CLIENT_SECRET, "
                f"or run `dataflow bootstrap` to write {path}",
                details={"reason": str(exc)},
            ) from None


class ServiceTokenAuth(httpx.Auth):
    """Bearer tokens for ``credentials``'s client, cached until shortly before they expire."""

    def __init__(self, credentials: ServiceCredentials, *, scopes: str | None = None, timeout_s: float = 10.0) -> None:
        self.credentials = credentials
        self.scopes = scopes
        self.timeout_s = timeout_s
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = threading.Lock()
        self._async_lock: asyncio.Lock | None = None

    def _form(self) -> dict[str, str]:
        return {"grant_type": "client_credentials", **({"scope": self.scopes} if self.scopes else {})}

    def _store(self, response: httpx.Response) -> str:
        if response.status_code != 200:
            raise DependencyUnavailable(
                f"the token endpoint answered {response.status_code}",
                details={"token_url": self.credentials.token_url, "body": response.text[:300]},
            )
        payload: dict[str, Any] = response.json()
        self._token = str(payload["access_token"])
        self._expires_at = time.monotonic() + float(payload.get("expires_in", 300)) - EXPIRY_MARGIN_S
        return self._token

    def _valid(self) -> str | None:
        return self._token if self._token and time.monotonic() < self._expires_at else None

    def token(self, *, renew: bool = False) -> str:
        """A valid token (blocking)."""
        with self._lock:
            if not renew and (token := self._valid()):
                return token
            try:
                response = httpx.post(
                    self.credentials.token_url,
                    data=self._form(),
                    auth=(self.credentials.client_id, self.credentials.client_secret),
                    timeout=self.timeout_s,
                )
            except httpx.HTTPError as exc:
                raise DependencyUnavailable(f"the token endpoint is unreachable: {exc}") from exc
            return self._store(response)

    async def token_async(self, *, renew: bool = False) -> str:
        """A valid token (on the event loop)."""
        if self._async_lock is None:
            self._async_lock = asyncio.Lock()
        async with self._async_lock:
            if not renew and (token := self._valid()):
                return token
            try:
                async with httpx.AsyncClient(timeout=self.timeout_s) as client:
                    response = await client.post(
                        self.credentials.token_url,
                        data=self._form(),
                        auth=(self.credentials.client_id, self.credentials.client_secret),
                    )
            except httpx.HTTPError as exc:
                raise DependencyUnavailable(f"the token endpoint is unreachable: {exc}") from exc
            return self._store(response)

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.token()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self.token(renew=True)}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        request.headers["Authorization"] = f"Bearer {await self.token_async()}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {await self.token_async(renew=True)}"
            yield request


def service_auth(settings: Settings, *, scopes: str | None = None) -> ServiceTokenAuth:
    """The ``httpx.Auth`` a service uses to call the others."""
    return ServiceTokenAuth(ServiceCredentials.from_settings(settings), scopes=scopes)
