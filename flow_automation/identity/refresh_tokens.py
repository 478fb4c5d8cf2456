"""Refresh tokens of browser sessions: rotated on every use, revoked by family.

A sign-in opens a session, a *family* of refresh tokens. Each refresh spends
the presented token and issues the next one of the family (rotation); a
token expires when unused for ``DATAFLOW_OAUTH_REFRESH_TOKEN_LIFETIME_S``.
Presenting a token that was already spent means two parties hold the
session's tokens, one of them a thief: the whole family is revoked, so both
must sign in again (OAuth 2.0 Security BCP, RFC 9700 section 4.14.2).

Storage is insert-only, because FerretDB applies only unique ``_id`` inserts
atomically. Three kinds of document share the collection:

``rt:<sha256 of token>``
    a token: family, client, user, the granted scopes, expiry.
``used:<sha256 of token>``
    the token was spent; exactly one of two concurrent refreshes inserts it,
    the other sees a duplicate key and is treated as reuse.
``revoked:<family id>``
    the family was revoked (reuse, sign-out, the user changed or removed);
    inserting it twice is harmless.

Only digests are stored; a token is shown once, in the token response.
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import as_utc
from flow_automation.identity.accounts import digest

log = logging.getLogger(__name__)

REFRESH_TOKENS_COLLECTION = "oauth_refresh_tokens"  # token digests, spent-token and revoked-family guards
TOKEN_PREFIX = "rt:"  # _id prefix of a refresh token's document
USED_PREFIX = "used:"  # _id prefix of the guard that marks a token as spent
REVOKED_PREFIX = "revoked:"  # _id prefix of the guard that marks a family as revoked


class RefreshToken(BaseModel):
    """A stored refresh token; also authlib's ``TokenMixin`` for the refresh and revocation endpoints."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    token_id: str = Field(description="SHA-256 of the token")
    family_id: str
    client_id: str
    username: str
    scope: str = Field(description="the scopes granted at sign-in")
    requested_scope: str = Field(description="the scopes the client asked for at sign-in")
    issued_at: datetime
    expires_at: datetime

    def check_client(self, client: object) -> bool:
        return getattr(client, "get_client_id", lambda: None)() == self.client_id

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= as_utc(self.expires_at)


class RefreshTokenStore:
    def __init__(self, db: AsyncDatabase, *, lifetime_s: int) -> None:
        self.collection = db[REFRESH_TOKENS_COLLECTION]
        self.lifetime_s = lifetime_s

    async def issue(
        self, *, family_id: str, client_id: str, username: str, scope: str, requested_scope: str
    ) -> tuple[str, RefreshToken]:
        """A new token of ``family_id``; returns the token (shown once) and its record."""
        token = secrets.token_urlsafe(48)
        now = datetime.now(UTC)
        record = RefreshToken(
            token_id=digest(token),
            family_id=family_id,
            client_id=client_id,
            username=username,
            scope=scope,
            requested_scope=requested_scope,
            issued_at=now,
            expires_at=now + timedelta(seconds=self.lifetime_s),
        )
        document = {"_id": TOKEN_PREFIX + record.token_id, "kind": "token", **record.model_dump()}
        await self.collection.insert_one(document)
        return token, record

    async def lookup(self, token: str) -> RefreshToken | None:
        """The token's record whatever its state (spent, expired, revoked); ``None`` if unknown."""
        if not token:
            return None
        document = await self.collection.find_one({"_id": TOKEN_PREFIX + digest(token)})
        return RefreshToken.model_validate(document) if document else None

    async def find_usable(self, token: str) -> RefreshToken | None:
        """The token's record when it is unexpired and its family not revoked (it may be spent: see consume)."""
        record = await self.lookup(token)
        if record is None or record.is_expired() or await self.is_revoked(record.family_id):
            return None
        return record

    async def consume(self, record: RefreshToken) -> bool:
        """Spend the token; ``False`` when it had been spent already (exactly one caller gets ``True``)."""
        try:
            await self.collection.insert_one(
                {"_id": USED_PREFIX + record.token_id, "kind": "used", "expires_at": record.expires_at}
            )
        except DuplicateKeyError:
            return False
        return True

    async def is_revoked(self, family_id: str) -> bool:
        return await self.collection.find_one({"_id": REVOKED_PREFIX + family_id}, {"_id": 1}) is not None

    async def revoke_family(self, family_id: str, *, reason: str) -> None:
        """End the session: no token of the family is accepted any more."""
        now = datetime.now(UTC)
        try:
            await self.collection.insert_one(
                {
                    "_id": REVOKED_PREFIX + family_id,
                    "kind": "revoked",
                    "reason": reason,
                    "revoked_at": now,
                    # Every token of the family expires by then, so the guard can go too.
                    "expires_at": now + timedelta(seconds=self.lifetime_s),
                }
            )
        except DuplicateKeyError:
            return
        log.info("session %s revoked: %s", family_id[:12], reason)

    async def revoke_user(self, username: str, *, reason: str) -> int:
        """Revoke every live session of ``username``; returns how many families were revoked."""
        families = await self.collection.distinct(
            "family_id", {"kind": "token", "username": username, "expires_at": {"$gt": datetime.now(UTC)}}
        )
        for family_id in families:
            await self.revoke_family(family_id, reason=reason)
        return len(families)

    async def purge_expired(self) -> int:
        result = await self.collection.delete_many({"expires_at": {"$lt": datetime.now(UTC)}})
        return result.deleted_count
