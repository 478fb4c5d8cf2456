"""Route templates become Tornado patterns and OpenAPI paths; declarations drive the document."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from pydantic import BaseModel, Field

from common.pagination import Page, PageQuery
from common.web import ApiHandler, endpoint, route
from common.web.openapi import build_openapi


class Thing(BaseModel):
    name: str = Field(min_length=1)
    tags: list[str] = []


class ThingsHandler(ApiHandler):
    @endpoint(scopes=["flows:read"], summary="List", query=PageQuery, response=Page[Thing])
    async def get(self) -> None: ...

    @endpoint(scopes=["flows:write"], body=Thing, response=Thing, status=201, audit="thing.create")
    async def post(self) -> None: ...


class ThingHandler(ApiHandler):
    @endpoint(scopes=["flows:read"], response=Thing)
    async def get(self, thing_id: str) -> None: ...


def test_template_becomes_a_named_group_pattern() -> None:
    spec = route("/api/v1/things/{thing_id}/parts/{part}", ThingHandler).url_spec()
    match = re.match(spec.regex.pattern, "/api/v1/things/a-1/parts/b.2")
    assert match is not None and match.groupdict() == {"thing_id": "a-1", "part": "b.2"}
    assert re.match(spec.regex.pattern, "/api/v1/things/a/b/parts/c") is None
    assert spec.kwargs["route_template"] == "/api/v1/things/{thing_id}/parts/{part}"


def test_openapi_document_is_valid_and_reflects_declarations() -> None:
    document = build_openapi(
        service="test",
        title="Test",
        version="1",
        description="",
        issuer="http://127.0.0.1:8081",
        routes=[route("/api/v1/things", ThingsHandler), route("/api/v1/things/{thing_id}", ThingHandler)],
    )
    validate(document)
    things = document["paths"]["/api/v1/things"]
    assert things["get"]["security"] == [{"oauth2": ["flows:read"]}]
    assert {p["name"] for p in things["get"]["parameters"]} == {"limit", "cursor"}
    assert things["post"]["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Thing"
    }
    assert set(things["post"]["responses"]) >= {"201", "400", "401", "403", "413", "415", "422", "503"}
    one = document["paths"]["/api/v1/things/{thing_id}"]["get"]
    assert one["parameters"][0] == {"name": "thing_id", "in": "path", "required": True, "schema": {"type": "string"}}
    assert "404" in one["responses"]
    assert document["components"]["schemas"]["Thing"]["properties"]["name"]["minLength"] == 1
    flows = document["components"]["securitySchemes"]["oauth2"]["flows"]
    assert flows["clientCredentials"]["tokenUrl"] == "http://127.0.0.1:8081/oauth2/token"
