"""The embedded OAuth2 authorization server, built on authlib.

authlib's framework-agnostic :class:`~authlib.oauth2.AuthorizationServer`
does the protocol work (client authentication by ``client_secret_basic``,
``client_secret_post`` or ``none`` for public clients, grant dispatch, RFC
6749 error responses); this module adapts it to Tornado and issues JWT
access tokens (RFC 9068 style) signed by
:class:`~flow_automation.identity.keys.SigningKeyStore`. The grants are
``client_credentials`` (services, scripts) and, for people signing in
through a browser, ``authorization_code`` with PKCE and ``refresh_token``
(:mod:`flow_automation.identity.grants`).

authlib is synchronous, while our stores are async. Handlers load the client
first and hand it over through a context variable, then run authlib (and
its argon2 checks) in a worker thread; where a grant needs the database
(codes, refresh tokens, users) it waits, from that thread, for a coroutine
run on the event loop (:func:`flow_automation.identity.grants.wait_for`).
"""

from __future__ import annotations

import asyncio
import contextvars
import time
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import ClientMixin, OAuth2Payload, OAuth2Request
from authlib.oauth2.rfc6749.errors import InvalidScopeError
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from joserfc import jwt

from common.scopes import ALL_SCOPES, parse_scopes
from common.settings import Settings
from flow_automation.constants import SIGNING_ALGORITHM
from flow_automation.identity.accounts import AccountStore, OAuthClient, User, verify_secret
from flow_automation.identity.codes import AuthorizationCodeStore
from flow_automation.identity.grants import (
    BrowserAuthorizationCode,
    RotatingRefreshToken,
    S256CodeChallenge,
    SessionRevocation,
)
from flow_automation.identity.keys import SigningKeyStore
from flow_automation.identity.refresh_tokens import RefreshTokenStore

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
        if self.client.disabled or grant_type not in self.client.grant_types:
            return False
        # A public client has no secret: a token for the client itself would be a token for anyone.
        return not (grant_type == "client_credentials" and self.client.is_public)


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
    """An authlib request built from a Tornado request's method, URL, headers and form (or query).

    Built on the event loop, it remembers that loop so grants running in a
    worker thread can reach the async stores
    (:func:`flow_automation.identity.grants.wait_for`).
    """

    def __init__(self, method: str, uri: str, headers: Any, form: dict[str, list[bytes]]) -> None:
        super().__init__(method, uri, headers=headers)
        self.payload = _FormPayload(form)
        self.loop = asyncio.get_running_loop()

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self.payload.data


class ClientCredentials(ClientCredentialsGrant):
    """The client_credentials grant, with the secret in the Basic header or in the form.

    ``none`` is listed only so that a public client (the web UI) is identified
    and then told plainly that it may not use this grant (``unauthorized_client``,
    see :meth:`AuthlibClient.check_grant_type`) instead of failing to authenticate.
    """

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]


class TokenIssuer:
    """Mints signed JWT access tokens."""

    def __init__(self, keys: SigningKeyStore, settings: Settings) -> None:
        self.keys = keys
        self.issuer = settings.oauth_issuer.rstrip("/")
        self.audience = settings.oauth_audience
        self.lifetime_s = settings.oauth_token_lifetime_s

    def issue(
        self, *, client_id: str, scope: str, user: User | None = None, session_id: str | None = None
    ) -> dict[str, Any]:
        """An access token; for a person, ``session_id`` names the sign-in session (claim ``sid``)."""
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
        if session_id is not None:
            claims["sid"] = session_id
        kid, key = self.keys.signing_key()
        token = jwt.encode({"alg": SIGNING_ALGORITHM, "kid": kid, "typ": "at+jwt"}, claims, key)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime_s, "scope": scope}


class DataflowAuthorizationServer(AuthorizationServer):
    """authlib's server with Dataflow's grants, stores and token format.

    ``verify_access_token`` checks one of our own JWTs (for revocation by
    access token); it is a coroutine function, awaited through
    :func:`~flow_automation.identity.grants.wait_for`.
    """

    def __init__(
        self,
        issuer: TokenIssuer,
        *,
        accounts: AccountStore,
        codes: AuthorizationCodeStore,
        refresh_tokens: RefreshTokenStore,
        verify_access_token: Callable[[str], Awaitable[Any]],
    ) -> None:
        super().__init__(scopes_supported=list(ALL_SCOPES))
        self.issuer = issuer
        self.accounts = accounts
        self.codes = codes
        self.refresh_tokens = refresh_tokens
        self.verify_access_token = verify_access_token
        self.register_token_generator("default", self._generate_token)
        self.register_grant(ClientCredentials)
        self.register_grant(BrowserAuthorizationCode, [S256CodeChallenge(required=True)])
        self.register_grant(RotatingRefreshToken)
        self.register_endpoint(SessionRevocation)

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
