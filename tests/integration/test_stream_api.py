"""The stream_pipeline API: definitions, validation, errors, scopes and the preview (no workers needed)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.fixtures.platform import Platform
from tests.integration.test_stream_support import streams, unique

pytestmark = pytest.mark.integration

__all__ = ["streams"]


def example(name: str) -> dict[str, Any]:
    """The definition from the issue, with unique names."""
    return {
        "name": name,
        "source": {"topics": [f"{name}.orders"], "group": name, "start": "earliest", "format": "json"},
        "steps": [
            {"type": "filter", "expr": "amount > 10 and country == 'KR'"},
            {"type": "map", "set": {"amount_krw": "amount * 1300"}, "drop": ["debug"]},
        ],
        "sink": {"type": "kafka", "topic": f"{name}.clean"},
        "dead_letter_topic": f"{name}.dlq",
    }


def test_create_read_list_replace_delete(streams: httpx.Client) -> None:
    name = unique("api-")
    created = streams.post("/api/v1/pipelines", json=example(name))
    assert created.status_code == 201, created.text
    pipeline = created.json()
    assert pipeline["id"] == name and pipeline["state"] == "stopped" and pipeline["version"] == 1
    assert pipeline["group"] == name and pipeline["dead_letter_topic"] == f"{name}.dlq"
    assert created.headers["Location"] == f"/api/v1/pipelines/{name}"

    fetched = streams.get(f"/api/v1/pipelines/{name}").json()
    assert fetched["steps"][0] == {"type": "filter", "expr": "amount > 10 and country == 'KR'", "name": None}
    listed = streams.get("/api/v1/pipelines", params={"limit": 500}).json()
    assert name in [item["id"] for item in listed["items"]]

    changed = {**example(name), "steps": [{"type": "filter", "expr": "amount > 100"}]}
    replaced = streams.put(f"/api/v1/pipelines/{name}", json=changed)
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["version"] == 2 and replaced.json()["steps"][0]["expr"] == "amount > 100"

    assert streams.post(f"/api/v1/pipelines/{name}/start").json()["state"] == "running"
    assert streams.post(f"/api/v1/pipelines/{name}/stop").json()["state"] == "stopped"
    assert streams.delete(f"/api/v1/pipelines/{name}").status_code == 204
    missing = streams.get(f"/api/v1/pipelines/{name}")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


def test_definitions_with_json_schema_keywords_are_stored_intact(streams: httpx.Client) -> None:
    name = unique("api-")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": {"id": {"type": "integer"}},
        "type": "object",
        "properties": {"id": {"$ref": "#/$defs/id"}, "a.b": {"type": "string"}},
    }
    definition = {
        **example(name),
        "steps": [{"type": "validate", "schema": schema}, {"type": "map", "set": {"x.y": "1"}}],
    }
    created = streams.post("/api/v1/pipelines", json=definition)
    assert created.status_code == 201, created.text
    assert streams.get(f"/api/v1/pipelines/{name}").json()["steps"][0]["schema"] == schema


def test_conflicts(streams: httpx.Client) -> None:
    name = unique("api-")
    assert streams.post("/api/v1/pipelines", json=example(name)).status_code == 201
    again = streams.post("/api/v1/pipelines", json=example(name))
    assert again.status_code == 409 and "exists already" in again.json()["error"]["message"]
    other = {**example(unique("api-")), "source": {"topics": ["x"], "group": name}}
    shared_group = streams.post("/api/v1/pipelines", json=other)
    assert shared_group.status_code == 409
    assert shared_group.json()["error"]["details"]["field"] == "source.group"


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"steps": [{"type": "filter", "expr": "amount >"}]}, "steps.0.filter.expr", "invalid syntax"),
        ({"steps": [{"type": "filter", "expr": "__import__('os')"}]}, "steps.0.filter.expr", "unknown function"),
        ({"steps": [{"type": "map", "set": {"a": "b("}}]}, "steps.0.map.set", "field 'a'"),
        ({"steps": [{"type": "explode"}]}, "steps.0", "explode"),
        ({"steps": [{"type": "validate", "schema": {"type": 12}}]}, "steps.0.validate.schema", "JSON Schema"),
        ({"steps": [{"type": "python", "code": "def process(v)\n  return v"}]}, "steps.0.python.code", "line 1"),
        (
            {"steps": [{"type": "python", "code": "def process(v):\n    return v.__dict__"}]},
            "steps.0.python.code",
            "sandbox policy",
        ),
        (
            {
                "steps": [
                    {"type": "sliding_window", "size_s": 10, "slide_s": 20, "aggregations": {"n": {"op": "count"}}}
                ]
            },
            "steps.0.sliding_window",
            "slide_s",
        ),
        ({"steps": [{"type": "tumbling_window", "size_s": 10, "aggregations": {}}]}, "steps.0.tumbling_window", ""),
        ({"sink": {"type": "kafka", "topic": "bad topic"}}, "sink.kafka.topic", ""),
        ({"sink": {"type": "sql", "url": "not a url", "table": "t"}}, "sink.sql", "SQLAlchemy URL"),
        ({"sink": {"type": "carrier-pigeon"}}, "sink", "carrier-pigeon"),
        ({"source": {"topics": []}}, "source.topics", ""),
        ({"source": {"topics": ["a"], "format": "xml"}}, "source.format", ""),
        ({"surprise": 1}, "surprise", ""),
    ],
)
def test_invalid_definitions_are_422_naming_the_field(
    streams: httpx.Client, change: dict[str, Any], field: str, fragment: str
) -> None:
    response = streams.post("/api/v1/pipelines", json={**example(unique("api-")), **change})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_definition"
    assert any(detail["field"].startswith(field) and fragment in detail["message"] for detail in error["details"]), (
        error
    )


def test_bad_requests_get_clear_errors(platform: Platform, streams: httpx.Client) -> None:
    malformed = streams.post("/api/v1/pipelines", content=b"{nope", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_argument"
    assert streams.get("/api/v1/pipelines/nope/status").status_code == 404
    assert streams.post("/api/v1/pipelines/nope/start").status_code == 404
    assert streams.post("/api/v1/pipelines/nope/preview", json={"messages": [1]}).status_code == 404
    assert streams.get("/api/v1/pipelines", params={"limit": 0}).status_code == 400
    with platform.client("stream_pipeline", scopes="streams:read") as reader:
        refused = reader.post("/api/v1/pipelines", json=example(unique("api-")))
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
        assert reader.get("/api/v1/pipelines").status_code == 200
    anonymous = httpx.get(f"{platform.url('stream_pipeline')}/api/v1/pipelines", timeout=10)
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")


def test_preview_runs_the_steps_without_kafka(streams: httpx.Client) -> None:
    name = unique("api-")
    assert streams.post("/api/v1/pipelines", json=example(name)).status_code == 201
    preview = streams.post(
        f"/api/v1/pipelines/{name}/preview",
        json={"messages": [{"amount": 20, "country": "KR", "debug": 1}, {"amount": 20, "country": "US"}, {"x": 1}]},
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["output"] == [{"amount": 20, "country": "KR", "amount_krw": 26000}]
    assert preview.json()["dead_letters"] == []

    raw = streams.post(
        f"/api/v1/pipelines/{name}/preview",
        json={"raw": True, "messages": ['{"amount": 11, "country": "KR"}', "{broken"]},
    )
    assert raw.status_code == 200, raw.text
    assert raw.json()["output"] == [{"amount": 11, "country": "KR", "amount_krw": 14300}]
    assert raw.json()["dead_letters"][0]["index"] == 1 and raw.json()["dead_letters"][0]["stage"] == "decode"

    windowed = streams.post(
        f"/api/v1/pipelines/{name}/preview",
        json={
            "messages": [{"k": "a", "t": 1, "v": 1}, {"k": "a", "t": 2, "v": 2}, {"k": "b", "t": 61, "v": 5}],
            "steps": [
                {
                    "type": "tumbling_window",
                    "size_s": 60,
                    "time_field": "t",
                    "group_by": ["k"],
                    "aggregations": {"total": {"op": "sum", "field": "v"}},
                }
            ],
        },
    )
    assert windowed.status_code == 200, windowed.text
    assert [(row["k"], row["total"]) for row in windowed.json()["output"]] == [("a", 3), ("b", 5)]

    failing = streams.post(
        f"/api/v1/pipelines/{name}/preview",
        json={"messages": [1], "steps": [{"type": "python", "code": "import os\ndef process(v):\n    return v"}]},
    )
    assert failing.status_code == 422 and "not allowed in the sandbox" in failing.json()["error"]["message"]
    not_strings = streams.post(f"/api/v1/pipelines/{name}/preview", json={"raw": True, "messages": [1]})
    assert not_strings.status_code == 422


def test_status_of_a_pipeline_no_worker_runs(streams: httpx.Client) -> None:
    name = unique("api-")
    assert streams.post("/api/v1/pipelines", json=example(name)).status_code == 201
    status = streams.get(f"/api/v1/pipelines/{name}/status")
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["state"] == "stopped" and body["workers"] == [] and body["running_version"] is None
    assert body["rates"] == {"in_per_s": 0.0, "out_per_s": 0.0, "dead_letters_per_s": 0.0}
    assert body["kafka_error"] is None  # the source topic does not exist yet: no partitions, no error
    dead = streams.get(f"/api/v1/pipelines/{name}/dead-letters")
    assert dead.status_code == 200 and dead.json() == {"topic": f"{name}.dlq", "items": []}


def test_openapi_documents_the_pipeline_routes(platform: Platform) -> None:
    document = httpx.get(f"{platform.url('stream_pipeline')}/openapi.json", timeout=10).json()
    for path in (
        "/api/v1/pipelines",
        "/api/v1/pipelines/{pipeline_id}",
        "/api/v1/pipelines/{pipeline_id}/start",
        "/api/v1/pipelines/{pipeline_id}/stop",
        "/api/v1/pipelines/{pipeline_id}/status",
        "/api/v1/pipelines/{pipeline_id}/preview",
        "/api/v1/pipelines/{pipeline_id}/dead-letters",
        "/api/v1/pipelines/{pipeline_id}/dead-letters/replay",
    ):
        assert path in document["paths"], path
    assert document["paths"]["/api/v1/pipelines"]["post"]["security"] == [{"oauth2": ["streams:write"]}]
