"""The authorization server's endpoints: token, JWKS and discovery.

These answer in the OAuth2 formats clients expect (RFC 6749 error bodies such
as ``{"error": "invalid_client"}``), not in Dataflow's error format.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
from typing import Any
from urllib.parse import unquote

from pydantic import BaseModel

from common.auth import Principal
from common.scopes import ALL_SCOPES
from common.web import ApiHandler, BaseHandler, endpoint
from flow_automation.identity.authorization import TornadoOAuth2Request, loaded_clients

FORM = "application/x-www-form-urlencoded"


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str


class TokenHandler(ApiHandler):
    @endpoint(
        public=True,
        summary="Issue an access token (client_credentials grant)",
        response=TokenResponse,
        audit="token.issue",
        body_types=(FORM,),
        errors=(400, 401),
    )
    async def post(self) -> None:
        identity = self.application.identity
        if self.media_type() != FORM:
            self._oauth_error(400, "invalid_request", f"Send the token request as {FORM}")
            return
        client_id = _basic_client_id(self.request.headers.get("Authorization")) or self.get_body_argument(
            "client_id", None
        )
        self.audit_object_id = client_id
        # The audit trail names the client that asked, whether or not it authenticated.
        self.principal = Principal(subject=client_id or "", client_id=client_id, scopes=frozenset())
        client = await identity.accounts.get_client(client_id) if client_id else None
        context_token = loaded_clients.set({client_id: client} if client_id else {})
        try:
            oauth_request = TornadoOAuth2Request(
                "POST",
                identity.settings.oauth_issuer.rstrip("/") + self.request.path,
                self.request.headers,
                self.request.body_arguments,
            )
            # authlib is synchronous and argon2 is deliberately slow: keep both off the event loop.
            status, body, headers = await asyncio.to_thread(identity.server.create_token_response, oauth_request)
        finally:
            loaded_clients.reset(context_token)
        for name, value in headers:
            self.set_header(name, value)
        if status >= 400:
            self.error_code = body.get("error") if isinstance(body, dict) else "invalid_request"
        self.set_header("Pragma", "no-cache")
        self.send_json(body, status=status)

    def _oauth_error(self, status: int, error: str, description: str) -> None:
        self.error_code = error
        self.send_json({"error": error, "error_description": description}, status=status)


def _basic_client_id(authorization: str | None) -> str | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(decoded.partition(":")[0]) or None


class JwksHandler(BaseHandler):
    async def get(self) -> None:
        keys = self.application.identity.keys
        if not keys.jwks()["keys"]:
            await keys.reload()
        self.set_header("Cache-Control", "public, max-age=60")
        self.send_json(keys.jwks())


class DiscoveryHandler(BaseHandler):
    """OpenID Provider / OAuth2 authorization server metadata (RFC 8414)."""

    async def get(self) -> None:
        issuer = self.application.config.oauth_issuer.rstrip("/")
        metadata: dict[str, Any] = {
            "issuer": issuer,
            "token_endpoint": f"{issuer}/oauth2/token",
            "jwks_uri": f"{issuer}/oauth2/jwks",
            "grant_types_supported": ["client_credentials"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "scopes_supported": list(ALL_SCOPES),
            "response_types_supported": [],
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
        }
        self.set_header("Cache-Control", "public, max-age=300")
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(metadata))
