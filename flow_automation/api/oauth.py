"""The authorization server's endpoints: authorize, token, revoke, JWKS and discovery.

The token and revocation endpoints answer in the OAuth2 formats clients
expect (RFC 6749 error bodies such as ``{"error": "invalid_client"}``), not
in Dataflow's error format. ``/oauth2/authorize`` is for people: it answers
HTML (the sign-in page, or a page explaining why the request cannot
proceed) and redirects back to the client with a code or an error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from authlib.oauth2.rfc6749.errors import InsecureTransportError, OAuth2Error
from pydantic import BaseModel, Field

from common.auth import Principal
from common.errors import InvalidArgument
from common.scopes import ALL_SCOPES, parse_scopes
from common.web import ApiHandler, BaseHandler, endpoint
from common.web.handlers import error_from_exception
from flow_automation.identity.accounts import OAuthClient
from flow_automation.identity.authorization import TornadoOAuth2Request, loaded_clients
from flow_automation.identity.login_form import (
    AUTHORIZE_PARAMS,
    CSRF_COOKIE,
    CSRF_FIELD,
    content_security_policy,
    render_error_page,
    render_login_page,
)

FORM = "application/x-www-form-urlencoded"
HTML = "text/html"


class TokenResponse(BaseModel):
    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None = Field(None, description="authorization_code and refresh_token grants; rotates")


@contextlib.contextmanager
def _clients_loaded(client_id: str | None, client: OAuthClient | None) -> Iterator[None]:
    """Hand the client loaded from MongoDB to authlib's synchronous ``query_client``."""
    token = loaded_clients.set({client_id: client} if client_id else {})
    try:
        yield
    finally:
        loaded_clients.reset(token)


def _oauth_request(handler: BaseHandler, method: str, form: dict[str, list[bytes]]) -> TornadoOAuth2Request:
    issuer = handler.application.config.oauth_issuer.rstrip("/")
    try:
        return TornadoOAuth2Request(method, issuer + handler.request.path, handler.request.headers, form)
    except InsecureTransportError as exc:
        raise InvalidArgument(
            "The authorization server is configured with a plain-HTTP issuer on a non-loopback address; "
            "set DATAFLOW_OAUTH_ISSUER to its https:// URL"
        ) from exc


async def _run_authlib(call: Callable[..., Any], *args: Any) -> Any:
    """authlib is synchronous and argon2 is deliberately slow: both run off the event loop."""
    try:
        return await asyncio.to_thread(call, *args)
    except ValueError as exc:  # authlib refuses to build an error whose text has characters RFC 6749 forbids
        raise InvalidArgument(f"The OAuth2 request is malformed: {exc}") from exc


class _OAuthFormEndpoint(ApiHandler):
    """A POST endpoint of RFC 6749 style: form in, authlib's JSON (or OAuth2 error) out."""

    async def respond(self, run: Callable[[TornadoOAuth2Request], tuple[int, Any, list[tuple[str, str]]]]) -> None:
        identity = self.application.identity
        if self.media_type() != FORM:
            self._oauth_error(400, "invalid_request", f"Send the request as {FORM}")
            return
        client_id = _basic_client_id(self.request.headers.get("Authorization")) or self.get_body_argument(
            "client_id", None
        )
        self.audit_object_id = client_id
        # The audit trail names the client that asked, whether or not it authenticated.
        self.principal = Principal(subject=client_id or "", client_id=client_id, scopes=frozenset())
        client = await identity.accounts.get_client(client_id) if client_id else None
        oauth_request = _oauth_request(self, "POST", self.request.body_arguments)
        with _clients_loaded(client_id, client):
            status, body, headers = await _run_authlib(run, oauth_request)
        if status == 200 and oauth_request.user is not None:
            scope = body.get("scope") if isinstance(body, dict) else None
            self.principal = Principal(
                subject=oauth_request.user.username, client_id=client_id, scopes=parse_scopes(scope)
            )
        for name, value in headers:
            self.set_header(name, value)
        if status >= 400:
            self.error_code = body.get("error") if isinstance(body, dict) else "invalid_request"
        self.set_header("Pragma", "no-cache")
        self.send_json(body, status=status)

    def _oauth_error(self, status: int, error: str, description: str) -> None:
        self.error_code = error
        self.send_json({"error": error, "error_description": description}, status=status)


class TokenHandler(_OAuthFormEndpoint):
    @endpoint(
        public=True,
        summary="Issue an access token (client_credentials, authorization_code with PKCE, refresh_token)",
        description="Public clients (the web UI) send client_id without a secret; a refresh returns a new "
        "refresh token, and the old one is spent (presenting it again revokes the session).",
        response=TokenResponse,
        audit="token.issue",
        body_types=(FORM,),
        errors=(400, 401),
    )
    async def post(self) -> None:
        await self.respond(self.application.identity.server.create_token_response)


class RevokeHandler(_OAuthFormEndpoint):
    @endpoint(
        public=True,
        summary="Revoke a token (RFC 7009); revoking a refresh token ends its session (sign-out)",
        audit="token.revoke",
        body_types=(FORM,),
        errors=(400, 401),
    )
    async def post(self) -> None:
        server = self.application.identity.server
        await self.respond(lambda request: server.create_endpoint_response("revocation", request))


def _basic_client_id(authorization: str | None) -> str | None:
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(authorization[6:].strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return unquote(decoded.partition(":")[0]) or None


def _first(arguments: dict[str, list[bytes]], name: str) -> str:
    values = arguments.get(name) or [b""]
    return values[-1].decode("utf-8", "replace")


def _client_problem(client_id: str, client: OAuthClient | None, redirect_uri: str) -> str | None:
    """Why the request cannot go back to the client at all (RFC 6749 section 4.1.2.1), or ``None``."""
    if not client_id:
        return "The request names no application: client_id is missing."
    if client is None or client.disabled:
        return f"No application is registered as {client_id!r}."
    if redirect_uri and redirect_uri not in client.redirect_uris:
        return f"The address {redirect_uri!r} is not registered as a redirect URI of {client.name!r}."
    if not redirect_uri and not client.redirect_uris:
        return f"The request has no redirect_uri, and {client.name!r} has none registered."
    return None


class AuthorizeHandler(ApiHandler):
    """Sign-in for the authorization code grant: the page (GET) and its form (POST).

    First-party clients get no consent screen: signing in is consent. There
    is no single sign-on session here; the client keeps the person signed in
    with its refresh token.
    """

    max_body_bytes = 64 * 1024

    @endpoint(
        public=True,
        summary="The sign-in page of the authorization code grant with PKCE (HTML)",
        description="Query: response_type=code, client_id, redirect_uri, code_challenge, "
        "code_challenge_method=S256, state, scope. An unknown client or redirect URI gets an error page; "
        "other errors redirect to the client with error=... (RFC 6749 4.1.2.1).",
        response_type=HTML,
        errors=(400,),
    )
    async def get(self) -> None:
        params = {name: _first(self.request.query_arguments, name) for name in AUTHORIZE_PARAMS}
        client = await self._client(params)
        with _clients_loaded(params["client_id"], client):
            grant = await self._validated_grant(params, client, self.request.query_arguments)
        if grant is not None:
            assert client is not None
            self._send_login_page(params, client, status=200)

    @endpoint(
        public=True,
        summary="Sign in (the sign-in page's form); redirects to the client with a code",
        description="Wrong credentials: 401 and the page again; too many failures: 429.",
        body_types=(FORM,),
        response_type=HTML,
        status=302,
        audit="user.sign_in",
        errors=(400, 401, 403, 429),
    )
    async def post(self) -> None:
        form = self.request.body_arguments
        params = {name: _first(form, name) for name in AUTHORIZE_PARAMS}
        client = await self._client(params)
        with _clients_loaded(params["client_id"], client):
            grant = await self._validated_grant(params, client, form)
            if grant is None:
                return
            assert client is not None
            user = await self._signed_in_user(params, client, form)
            if user is None:
                return
            status, body, headers = await _run_authlib(
                self.application.identity.server.create_authorization_response, grant.request, user, grant
            )
        self._send_authlib_response(status, body, headers)

    async def _client(self, params: dict[str, str]) -> OAuthClient | None:
        client_id = params["client_id"]
        return await self.application.identity.accounts.get_client(client_id) if client_id else None

    async def _validated_grant(
        self, params: dict[str, str], client: OAuthClient | None, arguments: dict[str, list[bytes]]
    ) -> Any:
        """authlib's grant for a valid request; otherwise the error is sent and ``None`` returned."""
        self.audit_object_id = params["client_id"] or None
        problem = _client_problem(params["client_id"], client, params["redirect_uri"])
        if problem is not None:
            self.error_code = "invalid_client" if client is None else "invalid_request"
            self._send_page(render_error_page(title="This sign-in link is not valid", message=problem), status=400)
            return None
        # Only the authorization request's own parameters reach authlib (never the password).
        oauth_arguments = {name: values for name, values in arguments.items() if name in AUTHORIZE_PARAMS}
        oauth_request = _oauth_request(self, "GET", oauth_arguments)
        try:
            return await _run_authlib(self.application.identity.server.get_consent_grant, oauth_request)
        except OAuth2Error as error:
            status, body, headers = error()
            self._send_authlib_response(status, body, headers)
            return None

    async def _signed_in_user(self, params: dict[str, str], client: OAuthClient, form: dict[str, list[bytes]]) -> Any:
        """The user whose credentials the form carries; otherwise the page is sent again and ``None`` returned."""
        identity = self.application.identity
        username = _first(form, "username").strip()
        password = _first(form, "password")
        self.principal = Principal(subject=username, client_id=client.client_id, scopes=frozenset())

        def again(status: int, code: str, message: str) -> None:
            self.error_code = code
            self._send_login_page(params, client, status=status, username=username, message=message)

        if not identity.login_guard.check(self.get_cookie(CSRF_COOKIE), _first(form, CSRF_FIELD)):
            again(400, "invalid_form", "This sign-in form has expired or did not come from this page. Sign in again.")
            return None
        if not username or not password:
            again(400, "invalid_request", "Enter your username and password.")
            return None
        remote_ip = self.request.remote_ip or ""
        wait_s = await identity.login_throttle.blocked_for(username, remote_ip)
        if wait_s is not None:
            self.set_header("Retry-After", str(wait_s))
            again(429, "rate_limited", f"Too many failed sign-ins. Try again in {wait_s} seconds.")
            return None
        user = await identity.accounts.authenticate_user(username, password)
        if user is None:
            await identity.login_throttle.record_failure(username, remote_ip)
            self.set_header("WWW-Authenticate", 'Form realm="Dataflow"')
            again(401, "invalid_credentials", "Wrong username or password.")
            return None
        if user.disabled:
            again(403, "account_disabled", "This account is disabled. Ask an administrator to enable it.")
            return None
        return user

    def _send_authlib_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> None:
        location = dict(headers).get("Location")
        if status in (301, 302, 303) and location:
            # authlib redirects only to a redirect URI it checked against the client's registered ones.
            self.error_code = _query_value(location, "error") or self.error_code
            self.redirect(location, status=302)
            return
        error = body.get("error", "invalid_request") if isinstance(body, dict) else "invalid_request"
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        self.error_code = error
        page = render_error_page(
            title="This sign-in link is not valid",
            message=description or "The authorization request is not valid.",
            detail=f"error: {error}",
        )
        self._send_page(page, status=status if 400 <= status < 500 else 400)

    def _send_login_page(
        self, params: dict[str, str], client: OAuthClient, *, status: int, username: str = "", message: str = ""
    ) -> None:
        guard = self.application.identity.login_guard
        nonce = guard.nonce(self.get_cookie(CSRF_COOKIE))
        self.set_cookie(
            CSRF_COOKIE,
            nonce,
            path="/oauth2",
            httponly=True,
            secure=self.request.protocol == "https",
            samesite="Strict",
        )
        redirect_uri = params["redirect_uri"] or client.redirect_uris[0]
        page = render_login_page(
            params=params,
            csrf_token=guard.form_token(nonce),
            client_name=client.name,
            username=username,
            message=message or None,
        )
        self._send_page(page, status=status, redirect_origin=_origin(redirect_uri))

    def _send_page(self, page: str, *, status: int, redirect_origin: str | None = None) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Content-Security-Policy", content_security_policy(redirect_origin))
        self.set_header("X-Frame-Options", "DENY")
        self.set_header("Referrer-Policy", "no-referrer")
        self.finish(page)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors of this endpoint are pages, not JSON: a person reads them."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        error = error_from_exception(exc, status_code)
        self.error_code = error.code
        self._send_page(
            render_error_page(title="Sign-in is not available right now", message=error.message), status=error.status
        )


def _origin(uri: str) -> str | None:
    parts = urlsplit(uri)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else None


def _query_value(uri: str, name: str) -> str | None:
    for pair in urlsplit(uri).query.split("&"):
        key, _, value = pair.partition("=")
        if key == name:
            return unquote(value)
    return None


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
        client_auth = ["client_secret_basic", "client_secret_post", "none"]
        metadata: dict[str, Any] = {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth2/authorize",
            "token_endpoint": f"{issuer}/oauth2/token",
            "revocation_endpoint": f"{issuer}/oauth2/revoke",
            "jwks_uri": f"{issuer}/oauth2/jwks",
            "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": client_auth,
            "revocation_endpoint_auth_methods_supported": client_auth,
            "scopes_supported": list(ALL_SCOPES),
            "id_token_signing_alg_values_supported": ["ES256"],
            "subject_types_supported": ["public"],
        }
        self.set_header("Cache-Control", "public, max-age=300")
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps(metadata))
