"""The identity provider: keys, accounts, token issuer and authorization server together."""

from __future__ import annotations

import asyncio
import logging

from cryptography.fernet import MultiFernet
from pymongo.asynchronous.database import AsyncDatabase

from common.auth import Principal, TokenValidator
from common.scopes import ALL_SCOPES
from common.settings import Settings
from flow_automation.connections import secret_box
from flow_automation.constants import KEY_RELOAD_INTERVAL_S
from flow_automation.identity.accounts import WEB_CLIENT_ID, AccountStore, OAuthClient
from flow_automation.identity.authorization import DataflowAuthorizationServer, TokenIssuer
from flow_automation.identity.codes import AuthorizationCodeStore
from flow_automation.identity.keys import SigningKeyStore
from flow_automation.identity.login_form import LoginFormGuard
from flow_automation.identity.login_throttle import LoginThrottle
from flow_automation.identity.refresh_tokens import RefreshTokenStore

log = logging.getLogger(__name__)

PURGE_INTERVAL_S = 300.0  # how often expired codes, refresh tokens and sign-in failures are deleted


class IdentityProvider:
    def __init__(self, db: AsyncDatabase, settings: Settings) -> None:
        self.settings = settings
        self.keys = SigningKeyStore(
            db,
            token_lifetime_s=settings.oauth_token_lifetime_s,
            leeway_s=settings.oauth_leeway_s,
            rotation_days=settings.oauth_key_rotation_days,
            secret_key=settings.secret_key,
        )
        self.accounts = AccountStore(db)
        self.codes = AuthorizationCodeStore(db, lifetime_s=settings.oauth_code_lifetime_s)
        self.refresh_tokens = RefreshTokenStore(db, lifetime_s=settings.oauth_refresh_token_lifetime_s)
        self.login_throttle = LoginThrottle(
            db,
            max_failures=settings.oauth_login_max_failures,
            max_account_failures=settings.oauth_login_max_account_failures,
            window_s=settings.oauth_login_failure_window_s,
        )
        self.issuer = TokenIssuer(self.keys, settings)
        self._access_tokens = TokenValidator(
            issuer=settings.oauth_issuer,
            audience=settings.oauth_audience,
            key_source=self.keys,
            leeway_s=settings.oauth_leeway_s,
        )
        self.server = DataflowAuthorizationServer(
            self.issuer,
            accounts=self.accounts,
            codes=self.codes,
            refresh_tokens=self.refresh_tokens,
            verify_access_token=self._verify_access_token,
        )
        self._login_guard: LoginFormGuard | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        """Indexes, the current signing key, the web client, and the loops that keep both current."""
        await self.accounts.ensure_indexes()
        await self.keys.ensure_indexes()
        await self.keys.ensure_current_key()
        await self.ensure_web_client()
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._follow_rotations()), loop.create_task(self._purge_expired())]

    async def ensure_web_client(self) -> OAuthClient:
        """The first-party public client of the web UI, with the redirect URIs of the settings."""
        redirect_uris = tuple(uri.strip() for uri in self.settings.web_redirect_uris.split(",") if uri.strip())
        return await self.accounts.ensure_public_client(
            client_id=WEB_CLIENT_ID,
            name="Dataflow web UI",
            scopes=ALL_SCOPES,
            grant_types=("authorization_code", "refresh_token"),
            redirect_uris=redirect_uris,
        )

    @property
    def login_guard(self) -> LoginFormGuard:
        """The sign-in form's token guard, keyed by ``DATAFLOW_SECRET_KEY`` (or the local key file)."""
        if self._login_guard is None:
            box: MultiFernet = secret_box(self.settings)
            self._login_guard = LoginFormGuard(box)
        return self._login_guard

    async def end_sessions(self, username: str, *, reason: str) -> int:
        """Revoke every browser session of ``username`` (their access tokens run out on their own)."""
        return await self.refresh_tokens.revoke_user(username, reason=reason)

    async def _verify_access_token(self, token: str) -> Principal:
        return await self._access_tokens.validate(token)

    async def _follow_rotations(self) -> None:
        while True:
            await asyncio.sleep(KEY_RELOAD_INTERVAL_S)
            try:
                await self.keys.ensure_current_key()
            except Exception:
                log.warning("could not refresh signing keys", exc_info=True)

    async def _purge_expired(self) -> None:
        while True:
            await asyncio.sleep(PURGE_INTERVAL_S)
            try:
                await self.codes.purge_expired()
                await self.refresh_tokens.purge_expired()
                await self.login_throttle.purge_expired()
            except Exception:
                log.warning("could not delete expired codes, refresh tokens or sign-in failures", exc_info=True)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        self._tasks = []
