"""The audit trail: who did what, to which object, when, from where, and how it ended.

Every mutating API call of every service is recorded by the base handler once
the response is sent (so the outcome is known). Entries hold identities, ids
and outcomes only, never request bodies, so a secret sent to an endpoint can
never enter the trail. Writing is best effort and off the request path: an
unreachable MongoDB delays nothing and loses at most the entries of that
moment, which are logged instead.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from common.auth import Principal
from common.pagination import PageQuery, list_page

log = logging.getLogger(__name__)

AUDIT_COLLECTION = "audit_log"


class AuditLog:
    def __init__(self, db: AsyncDatabase) -> None:
        self.collection = db[AUDIT_COLLECTION]
        self._pending: set[asyncio.Task[None]] = set()

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("at", DESCENDING)])
        await self.collection.create_index([("actor.subject", 1), ("at", DESCENDING)])
        await self.collection.create_index([("object.kind", 1), ("object.id", 1)])

    def record_later(
        self,
        *,
        service: str,
        action: str,
        object_id: str | None,
        principal: Principal | None,
        remote_ip: str | None,
        request_id: str,
        status: int,
        error_code: str | None,
    ) -> None:
        """Schedule the write of one entry; returns at once."""
        kind = action.split(".", 1)[0] if "." in action else None
        entry: dict[str, Any] = {
            "at": datetime.now(UTC),
            "service": service,
            "action": action,
            "object": {"kind": kind, "id": object_id},
            "actor": {
                "subject": principal.subject if principal else None,
                "client_id": principal.client_id if principal else None,
            },
            "remote_ip": remote_ip,
            "request_id": request_id,
            "outcome": {"status": status, "ok": status < 400, "error": error_code},
        }
        task = asyncio.get_running_loop().create_task(self._insert(entry))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _insert(self, entry: dict[str, Any]) -> None:
        try:
            await self.collection.insert_one(entry)
        except Exception:
            log.warning("could not write audit entry", extra={"audit": entry}, exc_info=True)

    async def flush(self) -> None:
        """Wait for the writes scheduled so far (used at shutdown and in tests)."""
        if self._pending:
            await asyncio.gather(*list(self._pending), return_exceptions=True)

    async def query(
        self,
        *,
        subject: str | None = None,
        client_id: str | None = None,
        action: str | None = None,
        kind: str | None = None,
        object_id: str | None = None,
        service: str | None = None,
        ok: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        cursor: str | None = None,
        limit: int = 50,
    ) -> dict[str, Any]:
        """A page of entries, newest first: ``{"items", "next_cursor"}``."""
        filters = {
            "actor.subject": subject,
            "actor.client_id": client_id,
            "action": action,
            "object.kind": kind,
            "object.id": object_id,
            "service": service,
            "outcome.ok": ok,
        }
        query: dict[str, Any] = {field: value for field, value in filters.items() if value is not None}
        if since or until:
            query["at"] = {**({"$gte": since} if since else {}), **({"$lt": until} if until else {})}
        return await list_page(self.collection, query, PageQuery(limit=limit, cursor=cursor))
