"""Client-credentials tokens ecron sends with HTTP actions aimed at Dataflow services.

Fetching and caching is :mod:`common.service_auth`'s (``DATAFLOW_SERVICE_CLIENT_ID``
/ ``_SECRET``, else the development client in ``<state dir>/credentials.json``);
this module adds what is ecron's own: deciding which URLs are Dataflow services,
and turning a missing token into a failed action with a clear reason.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx

from common.errors import DependencyUnavailable
from common.service_auth import ServiceTokenAuth, service_auth
from common.settings import Settings
from ecron.actions.errors import ActionFailed


def origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, (parts.hostname or "").lower(), port


class ServiceTokens:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
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
        self._auth: ServiceTokenAuth | None = None

    def is_dataflow_service(self, url: str) -> bool:
        return origin(url) in self.service_origins

    async def token(self, client: httpx.AsyncClient) -> str:
        """A valid token (cached by the shared auth; ``client`` is kept for the callers' signature)."""
        try:
            if self._auth is None:
                # Credentials are read on first use: a credentials file written after start is picked up.
                self._auth = service_auth(self.settings)
            return await self._auth.token_async()
        except DependencyUnavailable as exc:
            raise ActionFailed(
                f"the target is a Dataflow service but ecron has no service token: {exc.message}"
            ) from exc
