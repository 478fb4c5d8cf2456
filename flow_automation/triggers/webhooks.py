"""Webhook tokens: unguessable, stored hashed, stable while the flow keeps its webhook trigger.

A token is ``secrets.token_urlsafe(32)`` (256 bits). ``webhook_tokens`` holds
its SHA-256 (``_id``), the flow id and its ``slot`` (the ordinal of the
webhook trigger among the flow's webhook triggers), so ``POST /hooks/{token}``
is one lookup by hash. A save keeps the tokens of the slots that still exist
(the plain token is read back from the flow's trigger state) and drops the
others; deleting the flow drops them all.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

WEBHOOK_TOKENS = "webhook_tokens"
HOOK_PATH = "/hooks/"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def token_from_url(url: Any) -> str | None:
    if not isinstance(url, str) or HOOK_PATH not in url:
        return None
    return url.rsplit(HOOK_PATH, 1)[1] or None


class WebhookTokens:
    def __init__(self, db: AsyncDatabase, base_url: str) -> None:
        self.tokens = db[WEBHOOK_TOKENS]
        self.base_url = base_url.rstrip("/")

    async def ensure_indexes(self) -> None:
        await self.tokens.create_index([("flow_id", ASCENDING)])

    def url(self, token: str) -> str:
        return f"{self.base_url}{HOOK_PATH}{token}"

    async def sync(self, flow_id: str, slots: int, previous_urls: list[str]) -> list[str]:
        """The URLs of the flow's ``slots`` webhook triggers, reusing the tokens of ``previous_urls``."""
        known = {doc["_id"] for doc in await self.tokens.find({"flow_id": flow_id}, {"_id": 1}).to_list()}
        urls: list[str] = []
        kept: list[str] = []
        for slot in range(slots):
            token = token_from_url(previous_urls[slot]) if slot < len(previous_urls) else None
            if token is not None and token_hash(token) in known:
                await self.tokens.update_one({"_id": token_hash(token)}, {"$set": {"slot": slot}})
            else:
                token = secrets.token_urlsafe(32)
                await self.tokens.insert_one(
                    {"_id": token_hash(token), "flow_id": flow_id, "slot": slot, "created_at": datetime.now(UTC)}
                )
            kept.append(token_hash(token))
            urls.append(self.url(token))
        await self.tokens.delete_many({"flow_id": flow_id, "_id": {"$nin": kept}})
        return urls

    async def lookup(self, token: str) -> tuple[str, int] | None:
        """(flow id, slot) of a token, or None when no flow has it."""
        found = await self.tokens.find_one({"_id": token_hash(token)})
        return (found["flow_id"], int(found.get("slot", 0))) if found else None

    async def remove(self, flow_id: str) -> None:
        await self.tokens.delete_many({"flow_id": flow_id})
