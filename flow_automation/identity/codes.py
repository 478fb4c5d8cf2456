"""Authorization codes of the browser sign-in (RFC 6749 section 4.1, with PKCE).

A code is issued when a person signs in on ``/oauth2/authorize`` and is
exchanged once, within ``DATAFLOW_OAUTH_CODE_LIFETIME_S`` (60 s), at the
token endpoint by the client it was issued to, with the same redirect URI
and the PKCE verifier of its challenge.

Only the code's SHA-256 digest is stored, as the document's ``_id``. Using a
code inserts a second document, ``used:<digest>``: FerretDB applies unique
``_id`` inserts atomically (not updates or deletes), so of two concurrent
exchanges exactly one insert succeeds. The code document itself stays until
it expires, so a second exchange is recognised as reuse, and the session
that the first exchange opened (its refresh-token family, whose id is the
code's digest) is revoked, as RFC 6749 section 4.1.2 asks.

FerretDB has no TTL indexes: :meth:`AuthorizationCodeStore.purge_expired`
deletes what has expired, on a timer of the identity provider.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import as_utc
from flow_automation.identity.accounts import digest

AUTHORIZATION_CODES_COLLECTION = "oauth_authorization_codes"  # code digests and their used: guards
USED_PREFIX = "used:"  # _id prefix of the guard that marks a code as exchanged


class AuthorizationCode(BaseModel):
    """What a code stands for; also authlib's ``AuthorizationCodeMixin``."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    code_id: str = Field(alias="_id", description="SHA-256 of the code")
    client_id: str
    redirect_uri: str | None
    username: str
    scope: str = Field(description="the scopes granted: the request's scopes that the user's role has")
    requested_scope: str = Field(description="the scopes the client asked for (all of its scopes when it named none)")
    code_challenge: str
    code_challenge_method: str
    created_at: datetime
    expires_at: datetime

    @property
    def family_id(self) -> str:
        """The session (refresh-token family) that exchanging this code opens."""
        return self.code_id

    def get_redirect_uri(self) -> str | None:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def is_expired(self, now: datetime | None = None) -> bool:
        return (now or datetime.now(UTC)) >= as_utc(self.expires_at)


class AuthorizationCodeStore:
    def __init__(self, db: AsyncDatabase, *, lifetime_s: int) -> None:
        self.collection = db[AUTHORIZATION_CODES_COLLECTION]
        self.lifetime_s = lifetime_s

    async def save(
        self,
        code: str,
        *,
        client_id: str,
        redirect_uri: str | None,
        username: str,
        scope: str,
        requested_scope: str,
        code_challenge: str,
        code_challenge_method: str,
    ) -> AuthorizationCode:
        now = datetime.now(UTC)
        record = AuthorizationCode(
            code_id=digest(code),
            client_id=client_id,
            redirect_uri=redirect_uri,
            username=username,
            scope=scope,
            requested_scope=requested_scope,
            code_challenge=code_challenge,
            code_challenge_method=code_challenge_method,
            created_at=now,
            expires_at=now + timedelta(seconds=self.lifetime_s),
        )
        await self.collection.insert_one(record.model_dump(by_alias=True))
        return record

    async def find(self, code: str) -> AuthorizationCode | None:
        """The code's record, expired or not; ``None`` for a code never issued (or purged)."""
        if not code or code.startswith(USED_PREFIX):
            return None
        document = await self.collection.find_one({"_id": digest(code)})
        return AuthorizationCode.model_validate(document) if document else None

    async def consume(self, record: AuthorizationCode) -> bool:
        """Mark the code used; ``False`` when it had been used already (exactly one caller gets ``True``)."""
        try:
            await self.collection.insert_one({"_id": USED_PREFIX + record.code_id, "expires_at": record.expires_at})
        except DuplicateKeyError:
            return False
        return True

    async def purge_expired(self) -> int:
        result = await self.collection.delete_many({"expires_at": {"$lt": datetime.now(UTC)}})
        return result.deleted_count
