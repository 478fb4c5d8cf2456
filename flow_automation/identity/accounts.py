"""OAuth2 clients and users, stored in MongoDB with argon2-hashed secrets.

A secret or password is shown once, when it is created, and only its argon2
hash is stored. Verification runs argon2 (tens of milliseconds by design),
so callers on the event loop run it in a thread. Random bearer secrets the
server mints itself (authorization codes, refresh tokens) are stored as
SHA-256 digests instead (:func:`digest`): they carry enough entropy that a
slow hash adds nothing, and they are looked up by their digest.

A client is stored under ``_id`` = its client id, so registering the same id
twice is refused by the one insert FerretDB applies atomically.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
from datetime import UTC, datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel, ConfigDict, Field
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.errors import Conflict, InvalidArgument, NotFound
from common.scopes import ROLE_SCOPES, unknown_scopes
from flow_automation.constants import CLIENTS_COLLECTION, USERS_COLLECTION

log = logging.getLogger(__name__)

_hasher = PasswordHasher()
#: Verified against when a username is unknown, so a wrong username costs as long as a wrong password.
_UNKNOWN_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))

GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
WEB_CLIENT_ID = "flow-web"  # the first-party public client of the web UI, kept in line with the settings


class OAuthClient(BaseModel):
    """A registered OAuth2 client (a service, a script, the web UI)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    client_id: str
    name: str
    secret_hash: str | None = Field(None, repr=False)
    scopes: tuple[str, ...]
    grant_types: tuple[str, ...] = ("client_credentials",)
    redirect_uris: tuple[str, ...] = ()
    first_party: bool = False
    disabled: bool = False
    created_at: datetime

    @property
    def is_public(self) -> bool:
        return self.secret_hash is None


class User(BaseModel):
    """A person who signs in to the web UI; the role decides the scopes."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    username: str
    password_hash: str = Field(repr=False)
    role: str
    disabled: bool = False
    created_at: datetime

    @property
    def scopes(self) -> frozenset[str]:
        return ROLE_SCOPES[self.role]


def digest(secret: str) -> str:
    """The stored form of a random bearer secret the server minted (SHA-256, hex)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def verify_secret(secret_hash: str | None, secret: str) -> bool:
    """True when ``secret`` matches the stored argon2 hash (constant-time)."""
    if not secret_hash or not secret:
        return False
    try:
        return _hasher.verify(secret_hash, secret)
    except (VerificationError, InvalidHashError):
        return False


class AccountStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.clients = db[CLIENTS_COLLECTION]
        self.users = db[USERS_COLLECTION]

    async def ensure_indexes(self) -> None:
        await self.clients.create_index("client_id", unique=True)
        await self.users.create_index("username", unique=True)

    # -- clients -----------------------------------------------------------------------

    async def create_client(
        self,
        *,
        name: str,
        scopes: list[str] | tuple[str, ...],
        grant_types: tuple[str, ...] = ("client_credentials",),
        redirect_uris: tuple[str, ...] = (),
        client_id: str | None = None,
        secret: str | None = None,
        public: bool = False,
        first_party: bool = False,
    ) -> tuple[OAuthClient, str | None]:
        """Register a client; returns it and its secret (``None`` for a public client)."""
        if bad := unknown_scopes(set(scopes)):
            raise InvalidArgument(f"Unknown scope(s) {bad}; known scopes are listed in /openapi.json")
        if bad_grants := sorted(set(grant_types) - set(GRANT_TYPES)):
            raise InvalidArgument(f"Unknown grant type(s) {bad_grants}; use {list(GRANT_TYPES)}")
        if public and "client_credentials" in grant_types:
            raise InvalidArgument("A public client (no secret) cannot use the client_credentials grant")
        client_id = client_id or f"{_slug(name)}-{secrets.token_hex(4)}"
        secret = None if public else (secret or secrets.token_urlsafe(32))
        client = OAuthClient(
            client_id=client_id,
            name=name,
            secret_hash=_hasher.hash(secret) if secret else None,
            scopes=tuple(sorted(set(scopes))),
            grant_types=tuple(grant_types),
            redirect_uris=tuple(redirect_uris),
            first_party=first_party,
            created_at=datetime.now(UTC),
        )
        try:
            await self.clients.insert_one({"_id": client.client_id, **client.model_dump()})
        except DuplicateKeyError as exc:
            raise Conflict(f"A client with the id {client_id!r} exists already") from exc
        return client, secret

    async def ensure_public_client(
        self,
        *,
        client_id: str,
        name: str,
        scopes: tuple[str, ...],
        grant_types: tuple[str, ...],
        redirect_uris: tuple[str, ...],
    ) -> OAuthClient:
        """Create a first-party public client, or bring an existing one in line; idempotent.

        Every replica runs this at startup with the same configuration, so a
        lost insert race or a repeated update changes nothing.
        """
        wanted = {
            "name": name,
            "secret_hash": None,
            "scopes": tuple(sorted(set(scopes))),
            "grant_types": tuple(grant_types),
            "redirect_uris": tuple(redirect_uris),
            "first_party": True,
        }
        existing = await self.get_client(client_id)
        if existing is None:
            try:
                client, _ = await self.create_client(
                    client_id=client_id,
                    name=name,
                    scopes=scopes,
                    grant_types=grant_types,
                    redirect_uris=redirect_uris,
                    public=True,
                    first_party=True,
                )
                log.info("registered the public client %s", client_id)
                return client
            except Conflict:
                existing = await self.get_client(client_id)
                if existing is None:  # deleted meanwhile; the next start registers it again
                    raise
        current = existing.model_dump(include=set(wanted))
        if current == wanted:
            return existing
        if existing.secret_hash is not None:
            log.warning("client %s had a secret; it is a public client and the secret is removed", client_id)
        await self.clients.update_one({"client_id": client_id}, {"$set": wanted})
        log.info("updated the public client %s (%s)", client_id, sorted(k for k in wanted if current[k] != wanted[k]))
        return existing.model_copy(update=wanted)

    async def get_client(self, client_id: str) -> OAuthClient | None:
        document = await self.clients.find_one({"client_id": client_id})
        return OAuthClient.model_validate(document) if document else None

    async def list_clients(self) -> list[OAuthClient]:
        return [OAuthClient.model_validate(doc) async for doc in self.clients.find({}).sort("client_id", 1)]

    async def delete_client(self, client_id: str) -> None:
        result = await self.clients.delete_one({"client_id": client_id})
        if result.deleted_count == 0:
            raise NotFound("client", client_id)

    # -- users -------------------------------------------------------------------------

    async def create_user(self, *, username: str, password: str, role: str) -> User:
        if role not in ROLE_SCOPES:
            raise InvalidArgument(f"Unknown role {role!r}; use one of {sorted(ROLE_SCOPES)}")
        if len(password) < 8:
            raise InvalidArgument("The password must be at least 8 characters long")
        user = User(username=username, password_hash=_hasher.hash(password), role=role, created_at=datetime.now(UTC))
        try:
            await self.users.insert_one(user.model_dump())
        except DuplicateKeyError as exc:
            raise Conflict(f"A user named {username!r} exists already") from exc
        return user

    async def get_user(self, username: str) -> User | None:
        document = await self.users.find_one({"username": username})
        return User.model_validate(document) if document else None

    async def list_users(self) -> list[User]:
        return [User.model_validate(doc) async for doc in self.users.find({}).sort("username", 1)]

    async def authenticate_user(self, username: str, password: str) -> User | None:
        """The user when ``password`` is theirs (disabled or not), else ``None``; argon2 runs in a thread."""
        user = await self.get_user(username)
        password_hash = user.password_hash if user is not None else _UNKNOWN_USER_HASH
        matches = await asyncio.to_thread(verify_secret, password_hash, password)
        return user if matches and user is not None else None

    async def set_password(self, username: str, password: str) -> None:
        await self.update_user(username, password=password)

    async def update_user(
        self,
        username: str,
        *,
        role: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> User:
        """Change a user's role, disabled flag or password; returns the user as stored now."""
        changes: dict[str, Any] = {}
        if role is not None:
            if role not in ROLE_SCOPES:
                raise InvalidArgument(f"Unknown role {role!r}; use one of {sorted(ROLE_SCOPES)}")
            changes["role"] = role
        if disabled is not None:
            changes["disabled"] = disabled
        if password is not None:
            if len(password) < 8:
                raise InvalidArgument("The password must be at least 8 characters long")
            changes["password_hash"] = await asyncio.to_thread(_hasher.hash, password)
        if changes:
            result = await self.users.update_one({"username": username}, {"$set": changes})
            if result.matched_count == 0:
                raise NotFound("user", username)
        user = await self.get_user(username)
        if user is None:
            raise NotFound("user", username)
        return user

    async def delete_user(self, username: str) -> None:
        result = await self.users.delete_one({"username": username})
        if result.deleted_count == 0:
            raise NotFound("user", username)


def _slug(name: str) -> str:
    cleaned = "".join(ch if ch.isalnum() else "-" for ch in name.lower()).strip("-")
    return "-".join(part for part in cleaned.split("-") if part)[:40] or "client"


def public_view(client: OAuthClient) -> dict[str, Any]:
    """A client as shown to people: everything but the secret hash."""
    return client.model_dump(exclude={"secret_hash"})
