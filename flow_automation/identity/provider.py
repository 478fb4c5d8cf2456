"""The identity provider: keys, accounts, token issuer and authorization server together."""

from __future__ import annotations

import asyncio
import logging

from pymongo.asynchronous.database import AsyncDatabase

from common.settings import Settings
from flow_automation.constants import KEY_RELOAD_INTERVAL_S
from flow_automation.identity.accounts import AccountStore
from flow_automation.identity.authorization import DataflowAuthorizationServer, TokenIssuer
from flow_automation.identity.keys import SigningKeyStore

log = logging.getLogger(__name__)


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
        self.issuer = TokenIssuer(self.keys, settings)
        self.server = DataflowAuthorizationServer(self.issuer)
        self._refresh_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Indexes, the current signing key, and a loop that follows rotations by other replicas."""
        await self.accounts.ensure_indexes()
        await self.keys.ensure_indexes()
        await self.keys.ensure_current_key()
        if self._refresh_task is None:
            self._refresh_task = asyncio.get_running_loop().create_task(self._follow_rotations())

    async def _follow_rotations(self) -> None:
        while True:
            await asyncio.sleep(KEY_RELOAD_INTERVAL_S)
            try:
                await self.keys.ensure_current_key()
            except Exception:
                log.warning("could not refresh signing keys", exc_info=True)

    async def stop(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
