"""authlib grants for people who sign in through a browser.

* :class:`BrowserAuthorizationCode`: the authorization code grant with PKCE
  (:class:`S256CodeChallenge`: a challenge is required, and only ``S256``).
  A code is single-use, expires after ``DATAFLOW_OAUTH_CODE_LIFETIME_S`` and
  is bound to its client, redirect URI and challenge
  (:mod:`~flow_automation.identity.codes`).
* :class:`RotatingRefreshToken`: every refresh spends the presented token and
  returns a new one; a spent token presented again revokes its whole
  session (:mod:`~flow_automation.identity.refresh_tokens`).
* :class:`SessionRevocation`: RFC 7009 revocation; revoking a refresh token,
  or an access token of a browser session, ends that session (sign-out).

Scopes of a person: the scopes the client asked for (all of the client's
when it named none) that the user's role grants (:func:`granted_scope`).
They are fixed at sign-in; a refresh re-derives them from the user's current
role, and when the user was deleted or disabled, or the role no longer
yields the same scopes, the session is revoked and the person signs in again.

authlib calls these methods synchronously from a worker thread;
:func:`wait_for` runs the store coroutines on the event loop meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.errors import AccessDeniedError, InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc6749.grants import AuthorizationCodeGrant, RefreshTokenGrant
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oauth2.rfc7636.challenge import compare_s256_code_challenge

from common.errors import Unauthenticated
from common.scopes import ROLE_SCOPES, parse_scopes
from flow_automation.identity.accounts import User
from flow_automation.identity.codes import AuthorizationCode
from flow_automation.identity.refresh_tokens import RefreshToken

log = logging.getLogger(__name__)

#: How long a grant in a worker thread waits for one store call on the event loop.
STORE_CALL_TIMEOUT_S = 30.0
#: Public clients authenticate with ``none`` (client_id only), confidential ones with their secret.
ANY_CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "none"]

T = TypeVar("T")


def wait_for(request: OAuth2Request, call: Callable[[], Awaitable[T]]) -> T:
    """Run ``call()`` on the request's event loop and wait for its result, from authlib's worker thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("authlib grants run in a worker thread (asyncio.to_thread), never on the event loop")

    async def run() -> T:
        return await call()

    loop: asyncio.AbstractEventLoop = request.loop  # type: ignore[attr-defined]
    return asyncio.run_coroutine_threadsafe(run(), loop).result(STORE_CALL_TIMEOUT_S)


def granted_scope(requested_scope: str | None, role: str) -> str:
    """The scopes a person gets: those requested that their role has, sorted and space-separated."""
    return " ".join(sorted(parse_scopes(requested_scope) & ROLE_SCOPES.get(role, frozenset())))


class S256CodeChallenge(CodeChallenge):
    """PKCE (RFC 7636) as OAuth 2.1 wants it: every authorization request has an S256 challenge."""

    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": compare_s256_code_challenge}

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send a code_challenge with code_challenge_method=S256")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("Only code_challenge_method=S256 is accepted ('plain' is not)")
        super().validate_code_challenge(grant, redirect_uri)


class _SessionTokens:
    """Grant mixin: an access token naming the session (``sid``) and the session's next refresh token."""

    request: Any
    server: Any

    def _session(self) -> tuple[str, str, str]:
        """The session's family id, granted scopes and requested scopes."""
        raise NotImplementedError

    def generate_token(
        self,
        user: User | None = None,
        scope: str | None = None,
        grant_type: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        assert user is not None
        family_id, granted, requested = self._session()
        client_id = self.request.client.get_client_id()
        scope = " ".join(sorted(parse_scopes(scope))) or granted
        token = self.server.issuer.issue(client_id=client_id, scope=scope, user=user, session_id=family_id)
        if include_refresh_token:
            refresh_token, _ = wait_for(
                self.request,
                lambda: self.server.refresh_tokens.issue(
                    family_id=family_id,
                    client_id=client_id,
                    username=user.username,
                    scope=granted,
                    requested_scope=requested,
                ),
            )
            token["refresh_token"] = refresh_token
        return token

    def _end_session(self, family_id: str, reason: str) -> None:
        wait_for(self.request, lambda: self.server.refresh_tokens.revoke_family(family_id, reason=reason))

    def _current_user(self, username: str, granted: str, requested: str, family_id: str) -> User:
        """The user, still allowed exactly ``granted``; otherwise the session ends here."""
        user: User | None = wait_for(self.request, lambda: self.server.accounts.get_user(username))
        if user is None:
            reason = "the user no longer exists"
        elif user.disabled:
            reason = "the user is disabled"
        elif granted_scope(requested, user.role) != granted:
            reason = "the user's role changed"
        else:
            return user
        self._end_session(family_id, reason)
        raise InvalidGrantError(f"The session ended because {reason}; sign in again")


class BrowserAuthorizationCode(_SessionTokens, AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_CLIENT_AUTH

    def create_authorization_response(self, redirect_uri: str, grant_user: User | None) -> Any:
        if grant_user is not None and not granted_scope(self.request.scope, grant_user.role):
            raise AccessDeniedError(
                description=f"The role '{grant_user.role}' grants none of the requested scopes",
                redirect_uri=redirect_uri,
            )
        return super().create_authorization_response(redirect_uri, grant_user)

    def save_authorization_code(self, code: str, request: OAuth2Request) -> None:
        user: User = request.user
        data = request.payload.data
        wait_for(
            request,
            lambda: self.server.codes.save(
                code,
                client_id=request.client.get_client_id(),
                redirect_uri=request.payload.redirect_uri,
                username=user.username,
                scope=granted_scope(request.scope, user.role),
                requested_scope=request.scope,
                code_challenge=data["code_challenge"],
                code_challenge_method=data.get("code_challenge_method") or "S256",
            ),
        )

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        record: AuthorizationCode | None = wait_for(self.request, lambda: self.server.codes.find(code))
        if record is None or record.client_id != client.get_client_id():
            return None
        if record.is_expired():
            raise InvalidGrantError("The authorization code has expired; sign in again")
        return record

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Kept until it expires, so that a second exchange is recognised (its ``used:`` guard exists)."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> User:
        if not wait_for(self.request, lambda: self.server.codes.consume(authorization_code)):
            self._end_session(authorization_code.family_id, "authorization code used twice")
            raise InvalidGrantError("The authorization code was used already; the session it opened is revoked")
        return self._current_user(
            authorization_code.username,
            authorization_code.scope,
            authorization_code.requested_scope,
            authorization_code.family_id,
        )

    def _session(self) -> tuple[str, str, str]:
        code: AuthorizationCode = self.request.authorization_code
        return code.family_id, code.scope, code.requested_scope


class RotatingRefreshToken(_SessionTokens, RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ANY_CLIENT_AUTH
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshToken:
        record: RefreshToken | None = wait_for(
            self.request, lambda: self.server.refresh_tokens.find_usable(refresh_token)
        )
        if record is None:
            raise InvalidGrantError("The refresh token is unknown, expired or revoked; sign in again")
        return record

    def authenticate_user(self, refresh_token: RefreshToken) -> User:
        if not wait_for(self.request, lambda: self.server.refresh_tokens.consume(refresh_token)):
            log.warning(
                "a spent refresh token of %s (session %s) was presented again; the session is revoked",
                refresh_token.username,
                refresh_token.family_id[:12],
            )
            self._end_session(refresh_token.family_id, "refresh token used twice")
            raise InvalidGrantError("The refresh token was used already; the session is revoked, sign in again")
        return self._current_user(
            refresh_token.username, refresh_token.scope, refresh_token.requested_scope, refresh_token.family_id
        )

    def revoke_old_credential(self, refresh_token: RefreshToken) -> None:
        """Spent already, by the ``used:`` guard that authenticate_user inserted."""

    def _session(self) -> tuple[str, str, str]:
        record: RefreshToken = self.request.refresh_token
        return record.family_id, record.scope, record.requested_scope


@dataclass(frozen=True)
class _AccessTokenSession:
    """A valid access token presented for revocation: the session it belongs to, if any."""

    client_id: str | None
    family_id: str | None

    def check_client(self, client: Any) -> bool:
        return client.get_client_id() == self.client_id


class SessionRevocation(RevocationEndpoint):
    """RFC 7009: revoking a refresh token, or an access token of a browser session, ends the session.

    Access tokens are self-contained JWTs that every service checks offline,
    so one already issued stays valid until it expires (at most
    ``DATAFLOW_OAUTH_TOKEN_LIFETIME_S``); what ends is the ability to refresh.
    An unknown or invalid token is answered 200, as the RFC asks.
    """

    CLIENT_AUTH_METHODS = ANY_CLIENT_AUTH

    def authenticate_token(self, request: OAuth2Request, client: Any) -> RefreshToken | _AccessTokenSession | None:
        self.check_params(request, client)
        token = request.form["token"]
        found: RefreshToken | _AccessTokenSession | None
        if token.count(".") == 2:
            found = self._access_token_session(request, token)
        else:
            found = wait_for(request, lambda: self.server.refresh_tokens.lookup(token))
        if found is not None and not found.check_client(client):
            raise InvalidGrantError("The token was issued to another client")
        return found

    def _access_token_session(self, request: OAuth2Request, token: str) -> _AccessTokenSession | None:
        try:
            principal = wait_for(request, lambda: self.server.verify_access_token(token))
        except Unauthenticated:
            return None
        return _AccessTokenSession(client_id=principal.client_id, family_id=principal.claims.get("sid"))

    def query_token(self, token_string: str, token_type_hint: str | None) -> None:
        raise NotImplementedError("authenticate_token looks tokens up with the request at hand")

    def revoke_token(self, token: RefreshToken | _AccessTokenSession, request: OAuth2Request) -> None:
        if token.family_id:
            family_id = token.family_id
            wait_for(request, lambda: self.server.refresh_tokens.revoke_family(family_id, reason="signed out"))
