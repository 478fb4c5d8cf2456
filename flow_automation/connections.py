"""Data connections: SQLAlchemy URLs and MongoDB URIs, their credentials encrypted at rest.

A connection is stored in the MongoDB collection ``connections`` under its id
(a slug of its name unless given). Its URL holds the credentials, so the
whole URL is encrypted with Fernet and only a *masked* copy (password as
``***``) is kept in the clear, for lists and forms; the API never returns
anything else. Decryption happens only in an executor's memory, through
:class:`ConnectionLookup`, just before a node uses the connection.

The Fernet key comes from ``DATAFLOW_SECRET_KEY`` (several keys separated by
commas rotate: the first encrypts, every one decrypts). When it is unset,
the local default is a key file ``<state dir>/secret.key``, created once with
mode 600 and published atomically (written to a private temporary file, then
hard-linked into place, which fails if another process won the race), so the
API and any number of executors on one machine agree on the key. In
production set ``DATAFLOW_SECRET_KEY`` from a secret store instead: whoever
holds the key file can read every connection's password.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlencode

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pymongo import ASCENDING, MongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConfigurationError, DuplicateKeyError

from common.errors import Conflict, DataflowError, NotFound
from common.pagination import decode_cursor, encode_cursor
from common.settings import Settings
from flow_automation.node_types._base import DataConnection

CONNECTIONS_COLLECTION = "connections"  # data connections; the URL encrypted, a masked copy in the clear
SECRET_KEY_FILE = "secret.key"  # under the state dir: the local default Fernet key
MASK = "***"  # stands for a password in every URL the API shows
CONNECTION_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"

ConnectionKind = Literal["sql", "mongo"]

#: Query-string options whose values are secrets (SQLAlchemy and MongoDB options, lowercased).
_SECRET_OPTIONS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "api_key",
        "apikey",
        "sslpassword",
        "tlscertificatekeyfilepassword",
    }
)
_MONGO_SCHEMES = ("mongodb://", "mongodb+srv://")


class SecretKeyError(DataflowError):
    """The configured Fernet key is unusable, or a stored secret was encrypted with another key.

    A 409: the stored secret and the service's key disagree, which a person
    resolves (restore the key, or save the URL again); retrying cannot.
    """

    status = 409
    code = "secret_key_mismatch"


# -- the key ----------------------------------------------------------------------------------


def secret_box(settings: Settings) -> MultiFernet:
    """The Fernet keys for connection secrets: from ``settings.secret_key``, else the local key file."""
    if settings.secret_key:
        keys = [key.strip() for key in settings.secret_key.split(",") if key.strip()]
        source = "DATAFLOW_SECRET_KEY"
    else:
        keys = [local_key(Path(settings.state_dir) / SECRET_KEY_FILE)]
        source = str(Path(settings.state_dir) / SECRET_KEY_FILE)
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except (ValueError, TypeError) as exc:
        raise SecretKeyError(
            f"{source} does not hold a valid Fernet key (32 url-safe base64-encoded bytes); "
            "make one with `python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
        ) from exc


def local_key(path: Path) -> str:
    """The key in ``path``, creating the file (mode 600) if it does not exist yet; safe across processes."""
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    descriptor = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(Fernet.generate_key().decode() + "\n")
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process published its key first: use that one
            os.link(staging, path)
    finally:
        staging.unlink(missing_ok=True)
    return path.read_text().strip()


def encrypt(box: MultiFernet, url: str) -> str:
    return box.encrypt(url.encode()).decode()


def decrypt(box: MultiFernet, token: str, connection_id: str) -> str:
    try:
        return box.decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretKeyError(
            f"the secret of connection {connection_id!r} cannot be decrypted with the configured key; "
            "was DATAFLOW_SECRET_KEY (or the secret.key file) changed? Save the connection's URL again"
        ) from None


# -- URLs: validation, masking, redaction -----------------------------------------------------


def check_url(kind: ConnectionKind, url: str) -> str:
    """``url`` when it suits ``kind``; ``ValueError`` naming the problem (never echoing the URL) otherwise."""
    if kind == "mongo":
        if not url.startswith(_MONGO_SCHEMES):
            raise ValueError("a mongo connection needs a MongoDB URI starting with mongodb:// or mongodb+srv://")
        if "@" in url.split("/", 3)[2] and not _split_userinfo(url)[1][0]:
            raise ValueError("the MongoDB URI has credentials without a user name")
        host = _split_userinfo(url)[2].split("/", 1)[0]
        if not host:
            raise ValueError("the MongoDB URI names no host")
        return url
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        raise ValueError(
            "a sql connection needs a SQLAlchemy URL such as postgresql+psycopg://user:password@host/db "
            f"or sqlite:///path/to.db ({type(exc).__name__})"
        ) from None
    if not parsed.drivername:
        raise ValueError("the SQLAlchemy URL names no dialect")
    return url


def _split_userinfo(url: str) -> tuple[str, tuple[str, str | None], str]:
    """``scheme://``, (user, password or None) and the rest, for a URL whose userinfo may contain ':' or '@'."""
    scheme, _, rest = url.partition("://")
    authority_end = len(rest)
    for stop in "/?#":
        position = rest.find(stop)
        if position != -1:
            authority_end = min(authority_end, position)
    authority = rest[:authority_end]
    if "@" not in authority:
        return f"{scheme}://", ("", None), rest
    userinfo, _, host = authority.rpartition("@")
    user, colon, password = userinfo.partition(":")
    return f"{scheme}://", (user, password if colon else None), host + rest[authority_end:]


def mask_url(url: str) -> str:
    """``url`` with its password (and secret-looking query options) replaced by ``***``."""
    scheme, (user, password), rest = _split_userinfo(url)
    if user or password is not None:
        userinfo = user + (f":{MASK}" if password is not None else "")
        masked = f"{scheme}{userinfo}@{rest}"
    else:
        masked = url
    base, question, query = masked.partition("?")
    if not question:
        return masked
    query, hash_mark, fragment = query.partition("#")
    pairs = [(key, MASK if key.lower() in _SECRET_OPTIONS else value) for key, value in parse_qsl(query, True)]
    return f"{base}?{urlencode(pairs, safe='*/:,')}{hash_mark}{fragment}"


def secret_values(url: str) -> list[str]:
    """The secrets inside ``url`` (its password, secret query options), longest first, for redaction."""
    _, (_, password), _ = _split_userinfo(url)
    found = [password] if password else []
    _, _, query = url.partition("?")
    found += [value for key, value in parse_qsl(query.partition("#")[0], True) if key.lower() in _SECRET_OPTIONS]
    found += [unquote(value) for value in found]
    return sorted({value for value in found if value}, key=len, reverse=True)


def redact(text: str, urls: Iterable[str]) -> str:
    """``text`` with every URL in ``urls`` masked and every secret in them replaced by ``***``."""
    for url in urls:
        text = text.replace(url, mask_url(url))
        for secret in secret_values(url):
            text = text.replace(secret, MASK)
    return text


def with_stored_password(new_url: str, stored_url: str) -> str:
    """``new_url`` with a masked password (``***``) replaced by the stored one, so a form can send the URL back."""
    scheme, (user, password), rest = _split_userinfo(new_url)
    if password != MASK:
        return new_url
    _, (_, stored_password), _ = _split_userinfo(stored_url)
    return f"{scheme}{user}:{stored_password or ''}@{rest}"


# -- models -------------------------------------------------------------------------------------


class ConnectionFields(BaseModel):
    """What a person may set on a connection."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="what the connection is, for people")
    kind: ConnectionKind = Field(description="sql: a SQLAlchemy URL; mongo: a MongoDB URI")
    url: str = Field(
        min_length=1,
        max_length=4096,
        description="the URL with its credentials; stored encrypted, shown only with the password masked",
    )
    database: str | None = Field(
        None, min_length=1, max_length=64, description="mongo: the database to use when the URI names none"
    )
    description: str = Field("", max_length=2000)

    @model_validator(mode="after")
    def _url_suits_kind(self) -> ConnectionFields:
        check_url(self.kind, self.url)
        if self.database is not None and self.kind != "mongo":
            raise ValueError("'database' applies to mongo connections only; a SQL URL names its database")
        return self


class ConnectionCreate(ConnectionFields):
    id: str | None = Field(
        None, pattern=CONNECTION_ID_PATTERN, description="what flows call it; default: a slug of the name"
    )


class ConnectionUpdate(ConnectionFields):
    """A full replacement; a URL whose password is ``***`` keeps the stored password."""


class ConnectionView(BaseModel):
    id: str
    name: str
    kind: ConnectionKind
    url: str = Field(description="the URL with its password masked as ***")
    database: str | None
    description: str
    created_at: datetime
    updated_at: datetime


class ConnectionList(BaseModel):
    items: list[ConnectionView]
    next_cursor: str | None = None


class ConnectionTestResult(BaseModel):
    ok: bool
    message: str
    duration_ms: float


def public_view(document: dict[str, Any]) -> dict[str, Any]:
    """A stored connection as the API shows it: never the secret."""
    return {
        "id": document["_id"],
        "name": document["name"],
        "kind": document["kind"],
        "url": document["url_masked"],
        "database": document.get("database"),
        "description": document.get("description", ""),
        "created_at": document["created_at"],
        "updated_at": document["updated_at"],
    }


def slug(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    text = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-").lower()[:64]
    return text or f"connection-{secrets.token_hex(3)}"


# -- the store (API side, async) -----------------------------------------------------------------


class ConnectionStore:
    """CRUD over the ``connections`` collection for the API (pymongo's AsyncMongoClient)."""

    def __init__(self, db: AsyncDatabase, settings: Settings) -> None:
        self.collection = db[CONNECTIONS_COLLECTION]
        self.settings = settings
        self._box: MultiFernet | None = None

    @property
    def box(self) -> MultiFernet:
        if self._box is None:
            self._box = secret_box(self.settings)
        return self._box

    async def list(self, *, limit: int, cursor: str | None) -> dict[str, Any]:
        """A page of connections in id order; ``next_cursor`` is the last id of the page."""
        query: dict[str, Any] = {"_id": {"$gt": decode_cursor(cursor)}} if cursor else {}
        documents = await self.collection.find(query).sort("_id", ASCENDING).limit(limit + 1).to_list()
        next_cursor = encode_cursor(documents[limit - 1]["_id"]) if len(documents) > limit else None
        return {"items": [public_view(d) for d in documents[:limit]], "next_cursor": next_cursor}

    async def get(self, connection_id: str) -> dict[str, Any]:
        document = await self.collection.find_one({"_id": connection_id})
        if document is None:
            raise NotFound("connection", connection_id)
        return document

    async def create(self, fields: ConnectionCreate) -> dict[str, Any]:
        now = datetime.now(UTC)
        connection_id = fields.id or slug(fields.name)
        document = {"_id": connection_id, **self._stored(fields, fields.url), "created_at": now, "updated_at": now}
        try:
            await self.collection.insert_one(document)
        except DuplicateKeyError:
            raise Conflict(
                f"A connection with the id {connection_id!r} exists already; choose another id or name"
            ) from None
        return document

    async def replace(self, connection_id: str, fields: ConnectionUpdate) -> dict[str, Any]:
        current = await self.get(connection_id)
        url = with_stored_password(fields.url, decrypt(self.box, current["secret"], connection_id))
        changes = {**self._stored(fields, url), "updated_at": datetime.now(UTC)}
        result = await self.collection.update_one({"_id": connection_id}, {"$set": changes})
        if result.matched_count == 0:
            raise NotFound("connection", connection_id)
        return {**current, **changes}

    async def delete(self, connection_id: str) -> None:
        result = await self.collection.delete_one({"_id": connection_id})
        if result.deleted_count == 0:
            raise NotFound("connection", connection_id)

    async def resolve(self, connection_id: str) -> DataConnection:
        """The connection with its secret in the clear (for a connection test)."""
        return to_data_connection(await self.get(connection_id), self.box)

    def _stored(self, fields: ConnectionFields, url: str) -> dict[str, Any]:
        return {
            "name": fields.name,
            "kind": fields.kind,
            "url_masked": mask_url(url),
            "secret": encrypt(self.box, url),
            "database": fields.database,
            "description": fields.description,
        }


def to_data_connection(document: dict[str, Any], box: MultiFernet) -> DataConnection:
    return DataConnection(
        id=document["_id"],
        kind=document["kind"],
        url=decrypt(box, document["secret"], document["_id"]),
        database=document.get("database"),
    )


# -- the lookup (executor side, blocking) ----------------------------------------------------------


class ConnectionLookup:
    """Finds and decrypts connections for executors (blocking pymongo), keeping each for ``cache_s``.

    The short cache spares a round trip per task while a flow reads the same
    connection many times; a changed password is picked up within seconds.
    """

    def __init__(self, settings: Settings, *, cache_s: float = 30.0) -> None:
        self.settings = settings
        self.cache_s = cache_s
        self._client: MongoClient | None = None
        self._box: MultiFernet | None = None
        self._cache: dict[str, tuple[float, DataConnection]] = {}
        self._lock = threading.Lock()

    def get(self, connection_id: str) -> DataConnection:
        """The connection ``connection_id``, decrypted; :class:`NotFound` when there is none."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(connection_id)
            if cached is not None and now - cached[0] < self.cache_s:
                return cached[1]
            if self._client is None:
                self._client = MongoClient(
                    self.settings.mongo_uri,
                    serverSelectionTimeoutMS=self.settings.mongo_timeout_ms,
                    connectTimeoutMS=self.settings.mongo_timeout_ms,
                    tz_aware=True,
                    appname="dataflow-executor",
                )
            if self._box is None:
                self._box = secret_box(self.settings)
            client, box = self._client, self._box
        document = client.get_default_database(default="dataflow")[CONNECTIONS_COLLECTION].find_one(
            {"_id": connection_id}
        )
        if document is None:
            raise NotFound("connection", connection_id)
        connection = to_data_connection(document, box)
        with self._lock:
            self._cache[connection_id] = (now, connection)
        return connection

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            self._cache.clear()


# -- testing a connection ----------------------------------------------------------------------------

#: How long a connection test may wait for the server.
TEST_TIMEOUT_S = 5


def test_connection(connection: DataConnection) -> dict[str, Any]:
    """Connect for real and run the cheapest query; ``{ok, message, duration_ms}`` (blocking).

    A failure is an answer, not an error: the message says what the server
    said, with the connection's secrets redacted.
    """
    started = time.perf_counter()
    try:
        message = _probe_sql(connection) if connection.kind == "sql" else _probe_mongo(connection)
        ok = True
    except Exception as exc:  # noqa: BLE001 - every failure to connect is reported to the caller
        ok, message = False, redact(describe_failure(exc), [connection.url])
    return {"ok": ok, "message": message, "duration_ms": round((time.perf_counter() - started) * 1000, 2)}


def describe_failure(exc: BaseException) -> str:
    """The driver's own words for a failure, without SQLAlchemy's statement and link boilerplate."""
    original = getattr(exc, "orig", None)
    text = str(original if original is not None else exc).strip()
    text = re.sub(r"\s*\(Background on this error at: [^)]*\)", "", text)
    return f"{type(original or exc).__name__}: {text.splitlines()[0] if text else 'no details'}"


def _probe_sql(connection: DataConnection) -> str:
    from sqlalchemy import text

    engine = sql_engine(connection.url, connect_timeout_s=TEST_TIMEOUT_S)
    try:
        with engine.connect() as db:
            db.execute(text("SELECT 1"))
        return f"connected to {engine.dialect.name} ({engine.url.database or 'default database'})"
    finally:
        engine.dispose()


def _probe_mongo(connection: DataConnection) -> str:
    timeout_ms = TEST_TIMEOUT_S * 1000
    with MongoClient(
        connection.url,
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        socketTimeoutMS=timeout_ms,
        appname="dataflow-connection-test",
    ) as client:
        try:
            database = client.get_default_database(default=connection.database)
        except ConfigurationError:
            client.admin.command("ping")
            return "connected; neither the URI nor the connection names a database, so nodes cannot use it yet"
        database.command("ping")
        database.list_collection_names()  # needs authentication, unlike ping
        return f"connected to database {database.name!r}"


def sql_engine(url: str, *, connect_timeout_s: float | None = None) -> Any:
    """A SQLAlchemy engine without a pool (each node run connects and leaves), with a connect timeout."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.pool import NullPool

    parsed = make_url(url)
    connect_args: dict[str, Any] = {}
    if connect_timeout_s is not None:
        if parsed.get_backend_name() == "postgresql":
            connect_args["connect_timeout"] = int(connect_timeout_s)
        elif parsed.get_backend_name() == "sqlite":
            connect_args["timeout"] = connect_timeout_s
    return create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
