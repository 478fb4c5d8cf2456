"""The embedded OAuth2 authorization server, built on authlib.

authlib's framework-agnostic :class:`~authlib.oauth2.AuthorizationServer`
does the protocol work (client authentication by ``client_secret_basic`` or
``client_secret_post``, grant dispatch, RFC 6749 error responses); this module
adapts it to Tornado and issues JWT access tokens (RFC 9068 style) signed by
:class:`~flow_automation.identity.keys.SigningKeyStore`.

authlib calls ``query_client`` synchronously, while our store is async: the
handler loads the client first and hands it over through a context variable,
then runs authlib (and its argon2 check) in a worker thread.
"""

from __future__ import annotations

import contextvars
import time
import uuid
from collections import defaultdict
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from joserfc import jwt

from common.scopes import ALL_SCOPES, parse_scopes
from common.settings import Settings
from flow_automation.constants import SIGNING_ALGORITHM
from flow_automation.identity.accounts import OAuthClient, User, verify_secret
from flow_automation.identity.keys import SigningKeyStore

#: The clients loaded for the request being processed, by client id.
loaded_clients: contextvars.ContextVar[dict[str, OAuthClient | None]] = contextvars.ContextVar("loaded_clients")


class AuthlibClient(ClientMixin):
    """Adapts a stored :class:`OAuthClient` to authlib's client interface."""

    def __init__(self, client: OAuthClient) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> str | None:
        return self.client.redirect_uris[0] if self.client.redirect_uris else None

    def get_allowed_scope(self, scope: str | None) -> str:
        allowed = set(self.client.scopes)
        if not scope:
            return " ".join(sorted(allowed))
        requested = parse_scopes(scope)
        if not requested <= allowed:
            raise InvalidScopeError(
                description=f"The client may not request {sorted(requested - allowed)}; allowed: {sorted(allowed)}"
            )
        return " ".join(sorted(requested))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.client.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return verify_secret(self.client.secret_hash, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        if self.client.is_public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in self.client.grant_types

    def check_grant_type(self, grant_type: str) -> bool:
        return not self.client.disabled and grant_type in self.client.grant_types


class _FormPayload(OAuth2Payload):
    def __init__(self, form: dict[str, list[bytes]]) -> None:
        self._datalist = defaultdict(
            list, {key: [v.decode("utf-8", "replace") for v in values] for key, values in form.items()}
        )
        self._data = {key: values[-1] for key, values in self._datalist.items() if values}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class TornadoOAuth2Request(OAuth2Request):
    """An authlib request built from a Tornado request's method, URL, headers and form."""

    def __init__(self, method: str, uri: str, headers: Any, form: dict[str, list[bytes]]) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = _FormPayload(form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class ClientCredentials(ClientCredentialsGrant):
    """The client_credentials grant, with the secret in the Basic header or in the form."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


class TokenIssuer:
    """Mints signed JWT access tokens."""

    def __init__(self, keys: SigningKeyStore, settings: Settings) -> None:
        self.keys = keys
        self.issuer = settings.oauth_issuer.rstrip("/")
        self.audience = settings.oauth_audience
        self.lifetime_s = settings.oauth_token_lifetime_s

    def issue(self, *, client_id: str, scope: str, user: User | None = None) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": user.username if user else client_id,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime_s,
            "jti": uuid.uuid4().hex,
            "client_id": client_id,
            "scope": scope,
        }
        if user is not None:
            claims["preferred_username"] = user.username
            claims["role"] = user.role
        kid, key = self.keys.signing_key()
        token = jwt.encode({"alg": SIGNING_ALGORITHM, "kid": kid, "typ": "at+jwt"}, claims, key)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime_s, "scope": scope}


class DataflowAuthorizationServer(AuthorizationServer):
    def __init__(self, issuer: TokenIssuer) -> None:
        super().__init__(scopes_supported=list(ALL_SCOPES))
        self.issuer = issuer
        self.register_token_generator("default", self._generate_token)
        self.register_grant(ClientCredentials)

    def _generate_token(
        self,
        grant_type: str,
        client: AuthlibClient,
        user: User | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        granted = client.get_allowed_scope(scope)
        return self.issuer.issue(client_id=client.get_client_id(), scope=granted, user=user)

    def query_client(self, client_id: str) -> AuthlibClient | None:
        client = loaded_clients.get({}).get(client_id)
        return AuthlibClient(client) if client is not None and not client.disabled else None

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        """Access tokens are self-contained JWTs; nothing to store."""

    def create_oauth2_request(self, request: TornadoOAuth2Request) -> TornadoOAuth2Request:
        return request

    def create_json_request(self, request: TornadoOAuth2Request) -> TornadoOAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> tuple[int, Any, list[tuple[str, str]]]:
        return status, body, list(headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """No signal listeners; the token handler records the audit entry."""
