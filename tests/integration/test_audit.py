"""The audit trail: every mutating call recorded with who, what, when, where and outcome."""

from __future__ import annotations

import json

import httpx
import pytest
from pymongo import MongoClient

from tests.integration.fixtures.mongo import MONGO_URL
from tests.integration.fixtures.platform import Platform, wait_until

pytestmark = pytest.mark.integration


def _entries(platform: Platform, **params: str) -> list[dict]:
    with platform.client("flow_automation", "admin") as client:
        response = client.get("/api/v1/audit", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def test_creating_a_client_is_audited_without_its_secret(platform: Platform) -> None:
    with platform.client("flow_automation") as client:
        created = client.post("/api/v1/clients", json={"name": "audited", "scopes": ["cron:read"]})
    assert created.status_code == 201
    client_id, secret = created.json()["client_id"], created.json()["client_secret"]

    entries = wait_until(
        lambda: _entries(platform, action="client.create", object_id=client_id), timeout=10, message="audit entry"
    )
    entry = entries[0]
    assert entry["actor"] == {"subject": "dataflow-dev", "client_id": "dataflow-dev"}
    assert entry["object"] == {"kind": "client", "id": client_id}
    assert entry["outcome"] == {"status": 201, "ok": True, "error": None}
    assert entry["service"] == "flow_automation" and entry["remote_ip"] == "127.0.0.1" and entry["request_id"]

    with MongoClient(MONGO_URL) as mongo:
        everything = json.dumps(list(mongo[platform.database].audit_log.find({}, {"_id": 0})), default=str)
    assert secret not in everything


def test_refused_calls_are_audited_with_their_outcome(platform: Platform) -> None:
    with platform.client("flow_automation", "flows:read") as client:
        response = client.post("/api/v1/users", json={"username": "mallory", "password": "p4ssw0rd!", "role": "admin"})
    assert response.status_code == 403
    entries = wait_until(
        lambda: _entries(platform, action="user.create", ok="false"), timeout=10, message="refused-call audit entry"
    )
    assert entries[0]["outcome"] == {"status": 403, "ok": False, "error": "insufficient_scope"}
    assert "p4ssw0rd!" not in json.dumps(entries)


def test_token_requests_are_audited_without_the_secret(platform: Platform) -> None:
    response = httpx.post(
        f"{platform.issuer}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(platform.credentials["client_id"], "wrong-secret-123"),
        timeout=10,
    )
    assert response.status_code == 401
    entries = wait_until(
        lambda: _entries(platform, action="token.issue", ok="false"), timeout=10, message="failed token audit"
    )
    assert entries[0]["actor"]["client_id"] == "dataflow-dev"
    assert entries[0]["outcome"]["error"] == "invalid_client"
    assert "wrong-secret-123" not in json.dumps(entries)


def test_audit_is_paginated_newest_first(platform: Platform) -> None:
    with platform.client("flow_automation") as client:
        for n in range(5):
            assert (
                client.post("/api/v1/clients", json={"name": f"page-{n}", "scopes": ["flows:read"]}).status_code == 201
            )
    wait_until(lambda: len(_entries(platform, action="client.create")) >= 5, timeout=10, message="five entries")
    first = _entries(platform, action="client.create", limit="2")
    with platform.client("flow_automation") as client:
        page = client.get("/api/v1/audit", params={"action": "client.create", "limit": 2}).json()
    assert [item["id"] for item in page["items"]] == [item["id"] for item in first]
    assert page["next_cursor"]
    with platform.client("flow_automation") as client:
        second = client.get(
            "/api/v1/audit", params={"action": "client.create", "limit": 2, "cursor": page["next_cursor"]}
        ).json()
    assert second["items"] and second["items"][0]["at"] <= page["items"][-1]["at"]
    assert not {item["id"] for item in second["items"]} & {item["id"] for item in page["items"]}


def test_audit_needs_the_admin_scope(platform: Platform) -> None:
    with platform.client("flow_automation", "flows:read") as client:
        assert client.get("/api/v1/audit").status_code == 403
