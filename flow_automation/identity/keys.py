"""JWT signing keys, generated on first start and kept in MongoDB.

Keys have a ``generation``; the newest signs. Rotation inserts generation
N+1 under a unique index, so when several replicas rotate at once exactly one
insert wins and the others adopt its key. A replaced key stays published in
the JWKS until every token it signed has expired (``token lifetime + leeway``
after its retirement), then it is deleted.

Private keys are encrypted with the Fernet ``DATAFLOW_SECRET_KEY`` when it
is configured.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, MultiFernet
from joserfc.jwk import ECKey
from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.mongo import as_utc
from flow_automation.constants import (
    KEY_RELOAD_ON_UNKNOWN_KID_S,
    SIGNING_ALGORITHM,
    SIGNING_KEYS_COLLECTION,
)

log = logging.getLogger(__name__)


class SigningKeyStore:
    """The issuer's key set; also the :class:`common.auth.KeySource` of flow_automation itself."""

    def __init__(
        self,
        db: AsyncDatabase,
        *,
        token_lifetime_s: int,
        leeway_s: int,
        rotation_days: int,
        secret_key: str | None = None,
    ) -> None:
        self.collection = db[SIGNING_KEYS_COLLECTION]
        self.token_lifetime_s = token_lifetime_s
        self.leeway_s = leeway_s
        self.rotation_days = rotation_days
        # DATAFLOW_SECRET_KEY may list several keys (rotation): the first encrypts, any decrypts.
        keys = [key.strip() for key in (secret_key or "").split(",") if key.strip()]
        self._fernet = MultiFernet([Fernet(key.encode()) for key in keys]) if keys else None
        self._signing: tuple[str, ECKey] | None = None
        self._published: dict[str, ECKey] = {}
        self._loaded_at = 0.0

    async def ensure_indexes(self) -> None:
        await self.collection.create_index("generation", unique=True)

    async def ensure_current_key(self) -> None:
        """Load the key set; create the first key, or rotate when the newest is too old."""
        newest = await self.collection.find_one({}, sort=[("generation", DESCENDING)])
        if newest is None or as_utc(newest["created_at"]) < datetime.now(UTC) - timedelta(days=self.rotation_days):
            await self.rotate(expected_generation=newest["generation"] if newest else 0)
        else:
            await self.reload()

    async def rotate(self, *, expected_generation: int | None = None) -> str:
        """Make a new signing key; returns the kid that signs from now on."""
        if expected_generation is None:
            newest = await self.collection.find_one({}, sort=[("generation", DESCENDING)])
            expected_generation = newest["generation"] if newest else 0
        kid = f"k{expected_generation + 1}-{secrets.token_hex(4)}"
        key = ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": SIGNING_ALGORITHM}, private=True)
        now = datetime.now(UTC)
        document = {
            "_id": kid,
            "generation": expected_generation + 1,
            "alg": SIGNING_ALGORITHM,
            "private_jwk": self._seal(key.as_dict(private=True)),
            "public_jwk": key.as_dict(private=False),
            "created_at": now,
        }
        try:
            await self.collection.insert_one(document)
            await self.collection.update_many(
                {"generation": {"$lt": expected_generation + 1}, "retired_at": None},
                {"$set": {"retired_at": now}},
            )
            log.info("new signing key %s (generation %d)", kid, expected_generation + 1)
        except DuplicateKeyError:
            log.info("another replica rotated the signing key first; adopting it")
        await self.reload()
        assert self._signing is not None
        return self._signing[0]

    async def reload(self) -> None:
        """Re-read the key set, dropping keys whose tokens have all expired."""
        publish_for = timedelta(seconds=self.token_lifetime_s + self.leeway_s)
        await self.collection.delete_many({"retired_at": {"$lt": datetime.now(UTC) - publish_for}})
        documents = await self.collection.find({}).sort("generation", DESCENDING).to_list()
        if not documents:
            self._signing, self._published = None, {}
            return
        newest = documents[0]
        self._signing = (newest["_id"], ECKey.import_key(self._open(newest["private_jwk"])))
        self._published = {doc["_id"]: ECKey.import_key(doc["public_jwk"]) for doc in documents}
        self._loaded_at = time.monotonic()

    async def describe(self) -> list[dict[str, Any]]:
        """The published keys, newest first, without key material."""
        cursor = self.collection.find({}, {"private_jwk": 0, "public_jwk": 0}).sort("generation", DESCENDING)
        described = []
        for index, document in enumerate(await cursor.to_list()):
            document["kid"] = document.pop("_id")
            document["signing"] = index == 0
            described.append(document)
        return described

    def signing_key(self) -> tuple[str, ECKey]:
        if self._signing is None:
            raise RuntimeError("no signing key loaded; ensure_current_key() runs at startup")
        return self._signing

    def jwks(self) -> dict[str, Any]:
        return {"keys": [key.as_dict(private=False) for key in self._published.values()]}

    async def get_key(self, kid: str) -> ECKey | None:
        if kid not in self._published and time.monotonic() - self._loaded_at > KEY_RELOAD_ON_UNKNOWN_KID_S:
            await self.reload()
        return self._published.get(kid)

    def _seal(self, jwk: dict[str, Any]) -> dict[str, Any] | str:
        if self._fernet is None:
            return jwk
        return self._fernet.encrypt(json.dumps(jwk).encode()).decode()

    def _open(self, sealed: dict[str, Any] | str) -> dict[str, Any]:
        if isinstance(sealed, dict):
            return sealed
        if self._fernet is None:
            raise RuntimeError("signing keys are encrypted; set DATAFLOW_SECRET_KEY to the key that sealed them")
        return json.loads(self._fernet.decrypt(sealed.encode()))
