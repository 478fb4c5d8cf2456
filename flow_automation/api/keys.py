"""``/api/v1/keys``: the token signing keys (scope admin).

Rotation through the API takes effect at once on the replica that answers;
other replicas follow within a minute. Tokens signed by the previous key stay
valid until they expire, because that key stays in the JWKS until then.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from common.scopes import ADMIN
from common.web import ApiHandler, endpoint


class SigningKeyView(BaseModel):
    kid: str
    generation: int
    alg: str
    created_at: datetime
    retired_at: datetime | None = None
    signing: bool


class SigningKeyList(BaseModel):
    items: list[SigningKeyView]


class RotatedKey(BaseModel):
    kid: str


class KeysHandler(ApiHandler):
    @endpoint(scopes=[ADMIN], summary="List the published signing keys", response=SigningKeyList)
    async def get(self) -> dict[str, Any]:
        return {"items": await self.application.identity.keys.describe()}


class KeyRotationHandler(ApiHandler):
    @endpoint(scopes=[ADMIN], summary="Sign new tokens with a new key", response=RotatedKey, audit="key.rotate")
    async def post(self) -> dict[str, Any]:
        kid = await self.application.identity.keys.rotate()
        self.audit_object_id = kid
        return {"kid": kid}
