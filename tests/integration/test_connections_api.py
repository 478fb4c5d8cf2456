"""``/api/v1/connections`` on the real flow_automation: CRUD, scopes, secrets never returned, real tests.

Secrets are checked where they could leak: every response body, the raw
MongoDB document (encrypted, not the password in the clear), the audit
trail and the service's log.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from pymongo import MongoClient

from tests.integration.fixtures.mongo import MONGO_URL
from tests.integration.fixtures.platform import Platform, wait_until

pytestmark = pytest.mark.integration

PASSWORD = "dataflow"
POSTGRES_URL = f"postgresql+psycopg://dataflow:{PASSWORD}@127.0.0.1:5432/dataflow_test"
WRONG_PASSWORD = "N0tTheR1ghtOne"
CONNECTIONS = "/api/v1/connections"


def unique(prefix: str = "conn") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def create(platform: Platform, **fields: Any) -> dict[str, Any]:
    body = {"id": unique(), "name": "Warehouse", "kind": "sql", "url": POSTGRES_URL, **fields}
    with platform.client("flow_automation") as client:
        response = client.post(CONNECTIONS, json=body)
    assert response.status_code == 201, response.text
    return response.json()


def raw_document(platform: Platform, connection_id: str) -> dict[str, Any]:
    with MongoClient(MONGO_URL, serverSelectionTimeoutMS=5000) as client:
        document = client[platform.database]["connections"].find_one({"_id": connection_id})
    assert document is not None
    return document


def test_create_get_list_update_delete(platform: Platform) -> None:
    created = create(platform, description="the reporting database")
    connection_id = created["id"]
    assert created["url"] == "postgresql+psycopg://dataflow:***@127.0.0.1:5432/dataflow_test"
    assert created["kind"] == "sql" and created["description"] == "the reporting database"
    stored = raw_document(platform, connection_id)
    assert PASSWORD + "@" not in str(stored) and stored["secret"].startswith("gAAAA")  # a Fernet token

    with platform.client("flow_automation", scopes="flows:read") as reader:
        got = reader.get(f"{CONNECTIONS}/{connection_id}")
        assert got.status_code == 200 and got.json()["url"] == created["url"]
        listed = reader.get(CONNECTIONS, params={"limit": 500}).json()
        assert connection_id in [item["id"] for item in listed["items"]]
        assert all(":***@" in item["url"] or "@" not in item["url"] for item in listed["items"])

    with platform.client("flow_automation") as client:
        # A form sends the masked URL back: the stored password stays, and the connection still works.
        changed = client.put(
            f"{CONNECTIONS}/{connection_id}",
            json={"name": "Warehouse (reporting)", "kind": "sql", "url": created["url"]},
        )
        assert changed.status_code == 200, changed.text
        assert changed.json()["name"] == "Warehouse (reporting)" and changed.json()["url"] == created["url"]
        tested = client.post(f"{CONNECTIONS}/{connection_id}/test")
        assert tested.status_code == 200 and tested.json()["ok"] is True, tested.text

        assert client.delete(f"{CONNECTIONS}/{connection_id}").status_code == 204
        gone = client.get(f"{CONNECTIONS}/{connection_id}")
        assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
        assert client.delete(f"{CONNECTIONS}/{connection_id}").status_code == 404


def test_list_is_paginated_in_id_order(platform: Platform) -> None:
    prefix = unique("page")
    ids = [create(platform, id=f"{prefix}-{n}")["id"] for n in range(3)]
    seen: list[str] = []
    cursor = None
    with platform.client("flow_automation") as client:
        while True:
            params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
            page = client.get(CONNECTIONS, params=params).json()
            assert len(page["items"]) <= 2
            seen += [item["id"] for item in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert client.get(CONNECTIONS, params={"cursor": "not-a-cursor"}).status_code == 400
    assert seen == sorted(seen) and [i for i in seen if i.startswith(prefix)] == ids


def test_the_id_defaults_to_a_slug_and_duplicates_conflict(platform: Platform) -> None:
    name = f"Sales DB {uuid.uuid4().hex[:6]}"
    with platform.client("flow_automation") as client:
        first = client.post(CONNECTIONS, json={"name": name, "kind": "mongo", "url": f"{MONGO_URL}/sales"})
        assert first.status_code == 201 and first.json()["id"] == name.lower().replace(" ", "-")
        again = client.post(CONNECTIONS, json={"name": name, "kind": "mongo", "url": f"{MONGO_URL}/sales"})
        assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "kind": "mongo", "url": f"postgresql://u:{WRONG_PASSWORD}@h/db"}, "mongodb://"),
        ({"name": "x", "kind": "sql", "url": "::not a url::"}, "SQLAlchemy URL"),
        ({"name": "x", "kind": "oracle-ish", "url": "sqlite:///a.db"}, "kind"),
        ({"name": "x", "kind": "sql", "url": "sqlite:///a.db", "password": "extra"}, "password"),
        ({"kind": "sql", "url": "sqlite:///a.db"}, "name"),
        ({"name": "x", "kind": "sql", "url": "sqlite:///a.db", "id": "bad id!"}, "id"),
    ],
)
def test_bad_input_is_a_4xx_json_error_that_never_echoes_the_url(
    platform: Platform, body: dict[str, Any], field: str
) -> None:
    with platform.client("flow_automation") as client:
        response = client.post(CONNECTIONS, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == "invalid_definition"
    assert field in response.text and WRONG_PASSWORD not in response.text


def test_malformed_json_and_unknown_ids(platform: Platform) -> None:
    with platform.client("flow_automation") as client:
        malformed = client.post(CONNECTIONS, content=b"{not json", headers={"Content-Type": "application/json"})
        assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_argument"
        assert client.post(f"{CONNECTIONS}/{unique()}/test").status_code == 404
        update = client.put(f"{CONNECTIONS}/{unique()}", json={"name": "x", "kind": "sql", "url": "sqlite:///a.db"})
        assert update.status_code == 404


def test_scopes(platform: Platform) -> None:
    connection_id = create(platform)["id"]
    with platform.client("flow_automation", scopes="flows:read") as reader:
        assert reader.get(CONNECTIONS).status_code == 200
        refused = reader.post(CONNECTIONS, json={"name": "x", "kind": "sql", "url": "sqlite:///a.db"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
        assert reader.post(f"{CONNECTIONS}/{connection_id}/test").status_code == 403
        assert reader.delete(f"{CONNECTIONS}/{connection_id}").status_code == 403
    with platform.client("flow_automation", scopes="connections:write") as writer:
        assert writer.get(CONNECTIONS).status_code == 403
        assert writer.post(f"{CONNECTIONS}/{connection_id}/test").json()["ok"] is True


def test_a_wrong_password_tests_not_ok_with_a_clear_message(platform: Platform) -> None:
    connection_id = create(
        platform, url=f"postgresql+psycopg://dataflow:{WRONG_PASSWORD}@127.0.0.1:5432/dataflow_test"
    )["id"]
    with platform.client("flow_automation") as client:
        response = client.post(f"{CONNECTIONS}/{connection_id}/test")
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["ok"] is False and "password authentication failed" in result["message"]
    assert WRONG_PASSWORD not in response.text and result["duration_ms"] >= 0


def test_mongo_and_unreachable_servers_are_tested_for_real(platform: Platform) -> None:
    mongo_id = create(platform, kind="mongo", url=f"{MONGO_URL}/connection_tests")["id"]
    closed_port_id = create(platform, url=f"postgresql+psycopg://u:{WRONG_PASSWORD}@127.0.0.1:9/db")["id"]
    with platform.client("flow_automation") as client:
        mongo = client.post(f"{CONNECTIONS}/{mongo_id}/test").json()
        assert mongo["ok"] is True and "connection_tests" in mongo["message"]
        refused = client.post(f"{CONNECTIONS}/{closed_port_id}/test")
    assert refused.status_code == 200 and refused.json()["ok"] is False
    assert "OperationalError" in refused.json()["message"] and WRONG_PASSWORD not in refused.text


def test_secrets_stay_out_of_the_audit_trail_and_the_log(platform: Platform) -> None:
    secret = f"Audit{uuid.uuid4().hex[:12]}"
    connection_id = create(platform, url=f"postgresql+psycopg://dataflow:{secret}@127.0.0.1:5432/dataflow_test")["id"]
    with platform.client("flow_automation") as client:
        client.post(f"{CONNECTIONS}/{connection_id}/test")

        def audited() -> list[dict[str, Any]]:
            entries = client.get("/api/v1/audit", params={"limit": 500}).json()["items"]
            return [entry for entry in entries if entry["object"]["id"] == connection_id]

        entries = wait_until(lambda: len(audited()) >= 2 and audited(), timeout=30, message="audit entries")
    assert {entry["action"] for entry in entries} >= {"connection.create", "connection.test"}
    assert secret not in str(entries)
    assert secret not in platform.services["flow_automation"].log_path.read_text()


def test_a_connection_used_by_a_flow_is_deleted_only_with_force(platform: Platform) -> None:
    connection_id = create(platform)["id"]
    flow = {
        "id": unique("uses"),
        "name": "uses a connection",
        "nodes": [{"id": "q", "type": "sql.query", "config": {"connection": connection_id, "query": "select 1"}}],
    }
    with platform.client("flow_automation") as client:
        assert client.post("/api/v1/flows", json=flow).status_code == 201
        refused = client.delete(f"{CONNECTIONS}/{connection_id}")
        assert refused.status_code == 409, refused.text
        assert refused.json()["error"]["details"]["flows"] == [flow["id"]]
        assert client.get(f"{CONNECTIONS}/{connection_id}").status_code == 200  # nothing lost
        assert client.delete(f"{CONNECTIONS}/{connection_id}", params={"force": "true"}).status_code == 204
        assert client.get(f"{CONNECTIONS}/{connection_id}").status_code == 404
