"""Flows over HTTP against the real orchestrator and FerretDB: CRUD, versions, validation, diff, YAML, import."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.integration


def chain_flow(flow_id: str, *, nodes: int = 2, **extra: Any) -> dict[str, Any]:
    body = {
        "id": flow_id,
        "name": f"Flow {flow_id}",
        "nodes": [{"id": f"n{i}", "type": "noop"} for i in range(nodes)],
        "edges": [{"from": f"n{i}", "to": f"n{i + 1}"} for i in range(nodes - 1)],
    }
    body.update(extra)
    return body


def unique(prefix: str = "flow") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def api(platform):
    with platform.client("flow_automation") as client:
        yield client


def errors_of(response) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    body = response.json()["error"]
    assert body["code"] == "invalid_definition"
    return body["details"]["errors"]


def test_create_get_list_and_versions(api) -> None:
    flow_id = unique()
    created = api.post("/api/v1/flows", json=chain_flow(flow_id))
    assert created.status_code == 201, created.text
    assert created.json()["id"] == flow_id and created.json()["version"] == 1

    again = api.post("/api/v1/flows", json=chain_flow(flow_id))
    assert again.status_code == 409

    same = api.put(f"/api/v1/flows/{flow_id}", json=chain_flow(flow_id))
    assert same.status_code == 200 and same.json()["created_version"] is False and same.json()["version"] == 1

    changed = api.put(f"/api/v1/flows/{flow_id}", json=chain_flow(flow_id, nodes=3, description="longer"))
    assert changed.status_code == 200, changed.text
    assert changed.json()["version"] == 2 and changed.json()["created_version"] is True

    latest = api.get(f"/api/v1/flows/{flow_id}").json()
    assert latest["version"] == 2 and len(latest["definition"]["nodes"]) == 3
    first = api.get(f"/api/v1/flows/{flow_id}", params={"version": 1}).json()
    assert len(first["definition"]["nodes"]) == 2

    versions = api.get(f"/api/v1/flows/{flow_id}/versions").json()["items"]
    assert [v["version"] for v in versions] == [2, 1]
    one = api.get(f"/api/v1/flows/{flow_id}/versions/1")
    assert one.status_code == 200 and one.json()["definition"]["edges"] == [{"from": "n0", "to": "n1"}]
    assert api.get(f"/api/v1/flows/{flow_id}/versions/9").status_code == 404

    listed = api.get("/api/v1/flows", params={"q": flow_id}).json()["items"]
    assert [item["id"] for item in listed] == [flow_id]

    stale = api.put(f"/api/v1/flows/{flow_id}", params={"base_version": 1}, json=chain_flow(flow_id, nodes=4))
    assert stale.status_code == 409


def test_id_defaults_to_a_slug_of_the_name(api) -> None:
    name = f"Daily Sales {uuid.uuid4().hex[:6]} (EU)"
    body = chain_flow("x")
    body.pop("id")
    body["name"] = name
    created = api.post("/api/v1/flows", json=body)
    assert created.status_code == 201, created.text
    assert created.json()["id"] == name.lower().replace(" (eu)", "-eu").replace(" ", "-")


def test_diff_names_changed_nodes_and_fields(api) -> None:
    flow_id = unique()
    api.post("/api/v1/flows", json=chain_flow(flow_id, nodes=2))
    second = chain_flow(flow_id, nodes=3)
    second["nodes"][0]["retries"] = 4
    assert api.put(f"/api/v1/flows/{flow_id}", json=second).status_code == 200
    diff = api.get(f"/api/v1/flows/{flow_id}/diff", params={"from": 1, "to": 2})
    assert diff.status_code == 200, diff.text
    changes = diff.json()["changes"]
    assert changes["nodes"]["added"] == ["n2"]
    assert changes["nodes"]["changed"] == [{"id": "n0", "changes": [{"field": "retries", "before": 0, "after": 4}]}]
    assert changes["edges"]["added"] == [{"from": "n1", "to": "n2"}]


def test_yaml_body_export_and_import(api) -> None:
    flow_id = unique()
    text = yaml.safe_dump(chain_flow(flow_id, nodes=2))
    created = api.post("/api/v1/flows", content=text, headers={"Content-Type": "application/yaml"})
    assert created.status_code == 201, created.text

    exported = api.get(f"/api/v1/flows/{flow_id}/export")
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    document = yaml.safe_load(exported.text)
    assert document["id"] == flow_id and len(document["nodes"]) == 2

    document["description"] = "imported again"
    imported = api.post(
        "/api/v1/flows/import", files={"file": (f"{flow_id}.yaml", yaml.safe_dump(document), "application/yaml")}
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["version"] == 2

    as_json = api.get(f"/api/v1/flows/{flow_id}/export", params={"format": "json"})
    assert as_json.json()["description"] == "imported again"


@pytest.mark.parametrize(
    ("mutate", "node", "field", "fragment"),
    [
        (lambda f: f["nodes"].append({"id": "x", "type": "no.such.type"}), "x", "type", "unknown node type"),
        (lambda f: f["nodes"].append({"id": "n0", "type": "noop"}), "n0", "id", "duplicate"),
        (
            lambda f: f["nodes"].append({"id": "s", "type": "transform.select", "inputs": {"table": "ghost.table"}}),
            "s",
            "inputs.table",
            "no node 'ghost'",
        ),
        (lambda f: f["edges"].append({"from": "n1", "to": "n0"}), "n0", "inputs", "cycle"),
        (
            lambda f: f["nodes"].append(
                {
                    "id": "s",
                    "type": "transform.select",
                    "config": {"columns": "not-a-list"},
                    "inputs": {"table": "n0.x"},
                }
            ),
            "s",
            "config.columns",
            "",
        ),
        (
            lambda f: f["nodes"].append({"id": "p", "type": "noop", "inputs": {"v": "params.missing"}}),
            "p",
            "inputs.v",
            "no param",
        ),
        (
            lambda f: f.update({"params": {"day": {"type": "integer", "default": "monday"}}}),
            None,
            "params.day.default",
            "integer",
        ),
        (
            lambda f: f.update({"triggers": [{"type": "cron", "cron": "61 * * * *"}]}),
            None,
            "triggers.0.cron",
            "",
        ),
    ],
)
def test_validation_names_node_and_field(api, mutate, node, field, fragment) -> None:
    body = chain_flow(unique(), nodes=2)
    mutate(body)
    for path in ("/api/v1/flows/validate", "/api/v1/flows"):
        problems = errors_of(api.post(path, json=body))
        matching = [p for p in problems if p["node"] == node and p["field"] == field]
        assert matching, problems
        assert fragment in matching[0]["message"]


def test_cycle_names_its_members(api) -> None:
    body = chain_flow(unique(), nodes=3)
    body["edges"].append({"from": "n2", "to": "n0"})
    problems = errors_of(api.post("/api/v1/flows/validate", json=body))
    cycle = next(p for p in problems if "cycle" in p["message"])
    assert sorted(cycle["cycle"]) == ["n0", "n1", "n2"]


def test_bad_bodies_are_clear_errors(api) -> None:
    assert (
        api.post("/api/v1/flows", content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    )
    assert errors_of(api.post("/api/v1/flows", json={"name": "x", "nodes": [], "bogus": 1}))
    assert api.post("/api/v1/flows/validate", json=chain_flow(unique())).json()["valid"] is True
    assert api.get("/api/v1/flows/nope-nope").status_code == 404
    assert api.put("/api/v1/flows/nope-nope", json=chain_flow("nope-nope")).status_code == 404


def test_node_registry_describes_ports_and_schemas(api) -> None:
    response = api.get("/api/v1/node-types")
    assert response.status_code == 200
    types = {item["id"]: item for item in response.json()["items"]}
    expected = {
        "python",
        "noop",
        "branch",
        "subflow",
        "sql.query",
        "sql.write",
        "mongo.find",
        "mongo.write",
        "http.request",
        "kafka.produce",
        "kafka.consume",
        "document.extract",
        "document.ocr",
        "document.report",
    } | {
        f"transform.{name}"
        for name in ("filter", "select", "rename", "cast", "join", "aggregate", "sort", "dedupe", "fill")
    }
    assert expected <= set(types)
    select = types["transform.select"]
    assert select["category"] and select["inputs"][0]["kind"] == "table"
    assert select["config_schema"]["type"] == "object"
    assert api.get("/api/v1/node-types/python").json()["id"] == "python"
    assert api.get("/api/v1/node-types/nope").status_code == 404


def test_scopes_are_enforced(platform) -> None:
    with platform.client("flow_automation", scopes="flows:read") as reader:
        assert reader.get("/api/v1/flows").status_code == 200
        assert reader.post("/api/v1/flows", json=chain_flow(unique())).status_code == 403
