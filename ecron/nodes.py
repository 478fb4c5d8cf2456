"""Node membership: heartbeats, leases, and taking over the executions of a dead node.

Each node has one document: its heartbeat, ``lease_expires_at`` (heartbeat
plus the lease) and the ids of the executions it holds. A node adds an id
before it inserts the claim, so a claim is always listed by its holder. When
a lease has run out, any live node may take the document over with one
atomic ``find_one_and_delete`` guarded by the lease value it saw: exactly one
wins, and the winner re-runs the dead node's unfinished executions. A node
whose document is gone has been taken over (for example after a long pause)
and must drop what it holds.

The collection holds one small document per node, so reading it whole each
heartbeat costs nothing even on a store without query pushdown.
"""

from __future__ import annotations

import os
import socket
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from ecron.constants import NODES_COLLECTION


def new_node_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{os.urandom(3).hex()}"


class NodeRegistry:
    def __init__(self, db: AsyncDatabase, node_id: str, version: str, lease_s: float) -> None:
        self.collection = db[NODES_COLLECTION]
        self.node_id = node_id
        self.version = version
        self.lease_s = lease_s
        self.started_at = datetime.now(UTC)

    async def register(self, active: list[str]) -> None:
        now = datetime.now(UTC)
        await self.collection.replace_one(
            {"_id": self.node_id},
            {
                "host": socket.gethostname(),
                "pid": os.getpid(),
                "version": self.version,
                "started_at": self.started_at,
                "heartbeat_at": now,
                "lease_expires_at": now + timedelta(seconds=self.lease_s),
                "active": active,
            },
            upsert=True,
        )

    async def heartbeat(self, active: list[str]) -> bool:
        """Renew the lease; False when this node's document is gone (it was taken over)."""
        now = datetime.now(UTC)
        result = await self.collection.update_one(
            {"_id": self.node_id},
            {
                "$set": {
                    "heartbeat_at": now,
                    "lease_expires_at": now + timedelta(seconds=self.lease_s),
                    "active": active,
                }
            },
        )
        return result.matched_count == 1

    async def add_active(self, execution_ids: list[str]) -> None:
        await self.collection.update_one({"_id": self.node_id}, {"$addToSet": {"active": {"$each": execution_ids}}})

    async def release(self) -> None:
        """Let the others take over at once (a clean shutdown with executions still held)."""
        await self.collection.update_one({"_id": self.node_id}, {"$set": {"lease_expires_at": datetime.now(UTC)}})

    async def deregister(self) -> None:
        await self.collection.delete_one({"_id": self.node_id})

    async def all(self) -> list[dict[str, Any]]:
        return await self.collection.find({}).to_list()

    async def take_over(self, node: dict[str, Any]) -> dict[str, Any] | None:
        """Remove a dead node's document if its lease is still the one we saw; the winner gets it."""
        return await self.collection.find_one_and_delete(
            {"_id": node["_id"], "lease_expires_at": node["lease_expires_at"]}
        )


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
        "active_executions": len(document.get("active", [])),
    }
