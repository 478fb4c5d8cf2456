"""Flows and their immutable versions in MongoDB.

Two collections: ``flows`` holds one document per flow (its id, name, latest
version, trigger state, last run), ``flow_versions`` one document per saved
version (``_id`` = ``"<flow>@<n>"``, the whole definition). A save takes the
next version number with one atomic ``$inc`` on the flow document, writes
the version, then advances ``latest_version`` with ``$max``: two concurrent
saves get different numbers and the newer one wins, and no multi-document
transaction is needed (FerretDB has none). Saving a definition identical to
the latest version creates no new version.

Versions never change, so each process keeps the ones it wrote or read
lately: FerretDB decodes a nested document field by field, and reading the
version of a 40-node flow took about 8 ms of every run's start. A flow
deleted and created again under the same id starts its versions over; the
cache tells them apart by the flow document's ``incarnation``, drawn when it
is created.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import secrets
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from common.errors import Conflict, NotFound
from common.pagination import decode_cursor, encode_cursor
from flow_automation.flows.model import FlowDefinition, slugify

FLOWS = "flows"
VERSIONS = "flow_versions"
VERSION_CACHE_SIZE = 256


def definition_hash(definition: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(definition, sort_keys=True, default=str).encode()).hexdigest()


def flow_view(flow: dict[str, Any], version: dict[str, Any] | None = None) -> dict[str, Any]:
    """The API's view of a flow: summary fields, plus the definition when a version is given."""
    view = {
        "id": flow["_id"],
        "name": flow.get("name"),
        "description": flow.get("description", ""),
        "tags": flow.get("tags", []),
        "version": flow.get("latest_version"),
        "created_at": flow.get("created_at"),
        "updated_at": flow.get("updated_at"),
        "created_by": flow.get("created_by"),
        "updated_by": flow.get("updated_by"),
        "last_run": flow.get("last_run"),
        "triggers": flow.get("trigger_state", []),
    }
    if version is not None:
        view["version"] = version["version"]
        view["definition"] = version["definition"]
    return view


def version_view(version: dict[str, Any], *, with_definition: bool = True) -> dict[str, Any]:
    view = {
        "flow_id": version["flow_id"],
        "version": version["version"],
        "created_at": version["created_at"],
        "created_by": version.get("created_by"),
        "hash": version.get("hash"),
    }
    if with_definition:
        view["definition"] = version["definition"]
    return view


class FlowStore:
    def __init__(self, db: AsyncDatabase) -> None:
        self.flows = db[FLOWS]
        self.versions = db[VERSIONS]
        self._known: OrderedDict[tuple[str, str, int], dict[str, Any]] = OrderedDict()

    async def ensure_indexes(self) -> None:
        await self.versions.create_index([("flow_id", ASCENDING), ("version", DESCENDING)], unique=True)
        await self.flows.create_index([("updated_at", DESCENDING)])

    async def create(self, flow: FlowDefinition, *, actor: str | None) -> tuple[dict[str, Any], dict[str, Any]]:
        """Store a new flow as version 1; 409 when the id is taken."""
        flow_id = flow.id or slugify(flow.name)
        now = datetime.now(UTC)
        document = {
            "_id": flow_id,
            "name": flow.name,
            "description": flow.description,
            "tags": flow.tags,
            "next_version": 0,
            "latest_version": 0,
            "incarnation": secrets.token_hex(8),
            "created_at": now,
            "updated_at": now,
            "created_by": actor,
            "updated_by": actor,
        }
        try:
            await self.flows.insert_one(document)
        except DuplicateKeyError:
            # A flow whose creation stopped before its first version was written is free to take.
            taken = await self.flows.find_one_and_update({"_id": flow_id, "latest_version": 0}, {"$set": document})
            if taken is None:
                raise Conflict(
                    f"a flow with id {flow_id!r} exists; save a new version with PUT /api/v1/flows/{flow_id}",
                    details={"id": flow_id},
                ) from None
        return await self._add_version(flow_id, flow, actor=actor)

    async def save(
        self, flow_id: str, flow: FlowDefinition, *, actor: str | None, base_version: int | None = None
    ) -> tuple[dict[str, Any], dict[str, Any], bool]:
        """A new version of an existing flow (unless unchanged); returns (flow, version, created)."""
        current, latest = await self.get(flow_id)
        if base_version is not None and base_version != current["latest_version"]:
            raise Conflict(
                f"flow {flow_id!r} is at version {current['latest_version']}, not {base_version}; "
                "reload it and apply your change again",
                details={"latest_version": current["latest_version"]},
            )
        definition = _stored_definition(flow_id, flow)
        if latest["hash"] == definition_hash(definition):
            return current, latest, False
        saved, version = await self._add_version(flow_id, flow, actor=actor)
        return saved, version, True

    async def _add_version(
        self, flow_id: str, flow: FlowDefinition, *, actor: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        counter = await self.flows.find_one_and_update(
            {"_id": flow_id}, {"$inc": {"next_version": 1}}, return_document=ReturnDocument.AFTER
        )
        if counter is None:
            raise NotFound("flow", flow_id)
        number = int(counter["next_version"])
        definition = _stored_definition(flow_id, flow)
        now = datetime.now(UTC)
        while True:
            version = {
                "_id": f"{flow_id}@{number}",
                "flow_id": flow_id,
                "version": number,
                "definition": definition,
                "hash": definition_hash(definition),
                "created_at": now,
                "created_by": actor,
            }
            try:
                await self.versions.insert_one(version)
                break
            except DuplicateKeyError:
                # A concurrent save took this number ($inc is not atomic on FerretDB): the unique id decides.
                number += 1
        self._remember(counter, copy.deepcopy(version))
        await self.flows.update_one({"_id": flow_id}, {"$max": {"latest_version": number}})
        saved = await self.flows.find_one_and_update(
            {"_id": flow_id, "latest_version": number},
            {
                "$set": {
                    "name": flow.name,
                    "description": flow.description,
                    "tags": flow.tags,
                    "connections": used_connections(flow),
                    "updated_at": now,
                    "updated_by": actor,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return saved or await self._flow(flow_id), version

    async def _flow(self, flow_id: str) -> dict[str, Any]:
        flow = await self.flows.find_one({"_id": flow_id, "latest_version": {"$gt": 0}})
        if flow is None:
            raise NotFound("flow", flow_id)
        return flow

    async def get(self, flow_id: str, version: int | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The flow and one of its versions (the latest by default)."""
        flow = await self._flow(flow_id)
        number = int(version if version is not None else flow["latest_version"])
        key = _version_key(flow, number)
        known = self._known.get(key)
        if known is not None:
            self._known.move_to_end(key)
            return flow, copy.deepcopy(known)
        stored = await self.versions.find_one({"_id": f"{flow_id}@{number}"})
        if stored is None:
            raise NotFound("flow version", f"{flow_id}@{number}")
        self._remember(flow, copy.deepcopy(stored))
        return flow, stored

    def _remember(self, flow: dict[str, Any], version: dict[str, Any]) -> None:
        self._known[_version_key(flow, int(version["version"]))] = version
        while len(self._known) > VERSION_CACHE_SIZE:
            self._known.popitem(last=False)

    async def definition(self, flow_id: str, version: int | None = None) -> tuple[FlowDefinition, int]:
        _, stored = await self.get(flow_id, version)
        return FlowDefinition.model_validate(stored["definition"]), int(stored["version"])

    async def list_versions(self, flow_id: str, *, limit: int, cursor: str | None) -> dict[str, Any]:
        await self._flow(flow_id)
        query: dict[str, Any] = {"flow_id": flow_id}
        if cursor:
            query["version"] = {"$lt": int(decode_cursor(cursor))}
        found = await self.versions.find(query).sort("version", DESCENDING).limit(limit + 1).to_list()
        next_cursor = encode_cursor(str(found[limit - 1]["version"])) if len(found) > limit else None
        return {"items": [version_view(v, with_definition=False) for v in found[:limit]], "next_cursor": next_cursor}

    async def list_flows(
        self, *, search: str | None, tag: str | None, limit: int, cursor: str | None
    ) -> dict[str, Any]:
        query: dict[str, Any] = {"latest_version": {"$gt": 0}}
        if search:
            pattern = re.escape(search)
            query["$or"] = [
                {"_id": {"$regex": pattern, "$options": "i"}},
                {"name": {"$regex": pattern, "$options": "i"}},
                {"description": {"$regex": pattern, "$options": "i"}},
            ]
        if tag:
            query["tags"] = tag
        if cursor:
            query["_id"] = {"$gt": decode_cursor(cursor)}
        found = await self.flows.find(query).sort("_id", ASCENDING).limit(limit + 1).to_list()
        next_cursor = encode_cursor(found[limit - 1]["_id"]) if len(found) > limit else None
        return {"items": [flow_view(flow) for flow in found[:limit]], "next_cursor": next_cursor}

    async def delete(self, flow_id: str) -> None:
        await self._flow(flow_id)
        await self.flows.delete_one({"_id": flow_id})
        await self.versions.delete_many({"flow_id": flow_id})

    async def using_connection(self, connection_id: str) -> list[str]:
        """The flows whose latest version has a node reading or writing through ``connection_id``."""
        selector = {"connections": connection_id, "latest_version": {"$gt": 0}}
        found = await self.flows.find(selector, {"_id": 1}).to_list()
        return sorted(flow["_id"] for flow in found)

    async def set_fields(self, flow_id: str, fields: dict[str, Any]) -> None:
        await self.flows.update_one({"_id": flow_id}, {"$set": fields})


def _version_key(flow: dict[str, Any], number: int) -> tuple[str, str, int]:
    """A version's cache key: flows stored before incarnations existed are told apart by their creation time."""
    return flow["_id"], str(flow.get("incarnation") or flow.get("created_at")), number


def used_connections(flow: FlowDefinition) -> list[str]:
    """The data connections a flow's nodes name in their ``connection`` field."""
    return sorted({str(node.config["connection"]) for node in flow.nodes if node.config.get("connection")})


def _stored_definition(flow_id: str, flow: FlowDefinition) -> dict[str, Any]:
    return {**flow.model_dump(mode="json", by_alias=True, exclude={"id"}), "id": flow_id}
