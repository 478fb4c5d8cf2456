"""Client-credentials tokens ecron sends with HTTP actions aimed at Dataflow services.

The credentials are the shared ``DATAFLOW_SERVICE_CLIENT_ID`` and
``DATAFLOW_SERVICE_CLIENT_SECRET``; when they are not set, the development
client that ``make up`` writes to ``<state dir>/credentials.json`` is used,
so a local platform works without extra configuration. A token is cached until
a minute before it expires; concurrent callers share one fetch.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from urllib.parse import urlsplit

import httpx

from common.settings import Settings
from ecron.actions.errors import ActionFailed

log = logging.getLogger(__name__)

REFRESH_MARGIN_S = 60.0


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


class ServiceTokens:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.token_url = f"{settings.oauth_issuer.rstrip('/')}/oauth2/token"
        self.service_origins = {
            origin(url)
            for url in (
                settings.flow_automation_url,
                settings.coderunner_url,
                settings.ecron_url,
                settings.stream_pipeline_url,
                settings.oauth_issuer,
            )
        }
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    def is_dataflow_service(self, url: str) -> bool:
        return origin(url) in self.service_origins

    def _credentials(self) -> tuple[str, str] | None:
        if self.settings.service_client_id and self.settings.service_client_secret:
            return self.settings.service_client_id, self.settings.service_client_secret
        path = self.settings.credentials_path
        try:
            stored = json.loads(path.read_text())
            return str(stored["client_id"]), str(stored["client_secret"])
        except (OSError, ValueError, KeyError):
            return None

    async def token(self, client: httpx.AsyncClient) -> str:
        if self._token and time.monotonic() < self._expires_at:
            return self._token
        async with self._lock:
            if self._token and time.monotonic() < self._expires_at:
                return self._token
            credentials = self._credentials()
            if credentials is None:
                raise ActionFailed(
                    "the target is a Dataflow service but ecron has no client credentials: set "
                    "DATAFLOW_SERVICE_CLIENT_ID and DATAFLOW_SERVICE_CLIENT_SECRET"
                )
            try:
                response = await client.post(
                    self.token_url, data={"grant_type": "client_credentials"}, auth=credentials, timeout=10.0
                )
            except httpx.HTTPError as exc:
                raise ActionFailed(f"could not get a service token from {self.token_url}: {exc!r}") from exc
            if response.status_code != 200:
                raise ActionFailed(f"the token endpoint refused ecron's credentials ({response.status_code})")
            body = response.json()
            self._token = str(body["access_token"])
            self._expires_at = time.monotonic() + max(30.0, float(body.get("expires_in", 300)) - REFRESH_MARGIN_S)
            return self._token
