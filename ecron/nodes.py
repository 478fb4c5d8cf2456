"""Node membership: heartbeats, leases, and taking over the executions of a dead node.

Each node has one document: its heartbeat, ``lease_expires_at`` (heartbeat
plus the lease) and the ids of the executions it holds, in two lists:
``claiming`` (the claim insert is in flight: it may or may not have landed,
and another node may hold that slot) and ``active`` (claims this node won or
took over). A node adds an id to ``claiming`` before it inserts the claim and
moves it to ``active`` once the insert answered, so a claim is always listed
by its holder and a node taking over knows which ids are surely the dead
node's. When
a lease has run out, any live node may take the document over with one
insert of a takeover marker named after the node and the lease it saw:
exactly one wins (:meth:`NodeRegistry.take_over`), and the winner re-runs
the dead node's unfinished executions. A node
whose document is gone has been taken over (for example after a long pause)
and must drop what it holds.

The collection holds one small document per node, so reading it whole each
heartbeat costs nothing even on a store without query pushdown.
"""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from ecron.constants import NODES_COLLECTION, TAKEOVERS_COLLECTION


def new_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


class NodeRegistry:
    def __init__(self, db: AsyncDatabase, node_id: str, version: str, lease_s: float) -> None:
        self.collection = db[NODES_COLLECTION]
        self.takeovers = db[TAKEOVERS_COLLECTION]
        self.node_id = node_id
        self.version = version
        self.lease_s = lease_s
        self._write_lock = asyncio.Lock()
        self.started_at = datetime.now(UTC)

    async def _write_own(self, write: Any) -> Any:
        """Run one write of this node's document, never two at once.

        FerretDB applies an update by reading the document and writing all of
        it back, so two concurrent updates of different fields (a heartbeat
        and the list of held executions) lose one of them: a heartbeat could
        be undone and the lease seen as run out. Every writer of a node's
        document is that node's process, so one lock here is enough.
        """
        async with self._write_lock:
            return await write()

    async def register(self) -> None:
        def replace() -> Any:
            now = datetime.now(UTC)
            return self.collection.replace_one(
                {"_id": self.node_id},
                {
                    "host": socket.gethostname(),
                    "pid": os.getpid(),
                    "version": self.version,
                    "started_at": self.started_at,
                    "heartbeat_at": now,
                    "lease_expires_at": now + timedelta(seconds=self.lease_s),
                    "active": [],
                    "claiming": [],
                },
                upsert=True,
            )

        await self._write_own(replace)

    async def heartbeat(self, active: list[str], claiming: list[str], changes_read_until: datetime) -> bool:
        """Renew the lease; False when this node's document is gone (it was taken over)."""

        def renew() -> Any:
            now = datetime.now(UTC)
            held = {"active": active, "claiming": claiming, "changes_read_until": changes_read_until}
            lease = {"heartbeat_at": now, "lease_expires_at": now + timedelta(seconds=self.lease_s)}
            return self.collection.update_one({"_id": self.node_id}, {"$set": lease | held})

        result = await self._write_own(renew)
        return result.matched_count == 1

    async def set_held(self, active: list[str], claiming: list[str]) -> None:
        """Write what this node holds without renewing the lease (after a claim insert answered)."""
        update = {"$set": {"active": active, "claiming": claiming}}
        await self._write_own(lambda: self.collection.update_one({"_id": self.node_id}, update))

    async def add_held(self, execution_ids: list[str], *, confirmed: bool) -> None:
        update = {"$addToSet": {"active" if confirmed else "claiming": {"$each": execution_ids}}}
        await self._write_own(lambda: self.collection.update_one({"_id": self.node_id}, update))

    async def release(self) -> None:
        """Let the others take over at once (a clean shutdown with executions still held)."""
        update = {"$set": {"lease_expires_at": datetime.now(UTC)}}
        await self._write_own(lambda: self.collection.update_one({"_id": self.node_id}, update))

    async def deregister(self) -> None:
        await self.collection.delete_one({"_id": self.node_id})

    async def all(self) -> list[dict[str, Any]]:
        return await self.collection.find({}).to_list()

    async def take_over(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """Take a dead node's document as read in ``node``; exactly one caller gets it, the others None.

        The decision is the insert of a marker whose ``_id`` names the node and
        the lease it let run out (a unique insert is the one atomic decision
        FerretDB offers; its find-and-modify is not atomic between
        connections). The winner then deletes the document only if the lease is
        still the one it saw: a node that was merely slow and renewed it in the
        meantime keeps its executions.

        Called again after a MongoDB error (the answer to the insert or the
        delete may have been lost), it recognises its own marker and its own
        delete, so a takeover that was decided is never dropped.
        """
        marker = f"{node['_id']}@{node['lease_expires_at'].isoformat()}"
        try:
            await self.takeovers.insert_one({"_id": marker, "by": self.node_id, "at": datetime.now(UTC)})
        except DuplicateKeyError:
            existing = await self.takeovers.find_one({"_id": marker})
            if existing is None or existing.get("by") != self.node_id:
                return None
        result = await self.collection.delete_one({"_id": node["_id"], "lease_expires_at": node["lease_expires_at"]})
        if result.deleted_count == 1:
            return node
        # Not deleted now: the node renewed its lease (it keeps its executions), or an earlier call of ours
        # deleted the document and lost the answer (only the marker's winner deletes it).
        return node if await self.collection.find_one({"_id": node["_id"]}, {"_id": 1}) is None else None

    async def prune_takeovers(self, older_than: datetime) -> None:
        await self.takeovers.delete_many({"at": {"$lt": older_than}})


def node_view(document: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {
        "id": document["_id"],
        "host": document.get("host", ""),
        "pid": document.get("pid", 0),
        "version": document.get("version", ""),
        "started_at": document.get("started_at"),
        "heartbeat_at": document.get("heartbeat_at"),
        "lease_expires_at": document.get("lease_expires_at"),
        "alive": document.get("lease_expires_at") is not None and document["lease_expires_at"] > now,
        "active_executions": len(document.get("active", [])) + len(document.get("claiming", [])),
    }
