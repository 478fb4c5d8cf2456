"""OpenAPI 3.1 documents generated from routes and endpoint declarations.

Schemas come from the same pydantic models that validate requests
(``TypeAdapter(...).json_schema``), so the document cannot drift from the
code. Nested models land in ``components/schemas`` by name.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from pydantic import BaseModel, TypeAdapter

from common.scopes import SCOPE_DESCRIPTIONS
from common.web.routes import JSON, EndpointSpec, Route, endpoint_spec

HTTP_METHODS = ("get", "post", "put", "patch", "delete")

ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string", "examples": ["invalid_argument"]},
                "message": {"type": "string"},
                "details": {},
                "request_id": {"type": "string"},
            },
        }
    },
}

_ERROR_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, bad query parameter)",
    401: "Missing or invalid bearer token",
    403: "The token lacks a required scope",
    404: "Not found",
    409: "Conflict with the current state",
    413: "Request body too large",
    415: "Unsupported content type",
    422: "Valid JSON, invalid content",
    503: "A dependency (MongoDB, Kafka, another service) is unavailable",
}


class _Schemas:
    def __init__(self) -> None:
        self.components: dict[str, Any] = {"Error": ERROR_SCHEMA}

    def ref(self, annotation: Any) -> dict[str, Any]:
        schema = TypeAdapter(annotation).json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in schema.pop("$defs", {}).items():
            self.components.setdefault(name, definition)
        if inspect.isclass(annotation) and issubclass(annotation, BaseModel):
            name = re.sub(r"[^A-Za-z0-9._-]", "_", annotation.__name__)  # Page[Flow] -> Page_Flow_, as pydantic does
            self.components.setdefault(name, schema)
            return {"$ref": f"#/components/schemas/{name}"}
        return schema


def _parameters(route: Route, spec: EndpointSpec, schemas: _Schemas) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in route.params
    ]
    if spec.query is not None and hasattr(spec.query, "model_fields"):
        query_schema = TypeAdapter(spec.query).json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in query_schema.pop("$defs", {}).items():
            schemas.components.setdefault(name, definition)
        required = set(query_schema.get("required", []))
        for name, prop in query_schema.get("properties", {}).items():
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in required,
                "schema": prop,
            }
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    return params


def _operation(route: Route, method: str, spec: EndpointSpec, schemas: _Schemas, service: str) -> dict[str, Any]:
    path_name = re.sub(r"[^A-Za-z0-9]+", "_", route.template).strip("_")
    operation: dict[str, Any] = {
        "operationId": f"{service}_{method}_{path_name}",
        "summary": spec.summary or f"{method.upper()} {route.template}",
        "tags": list(spec.tags) or [service],
        "parameters": _parameters(route, spec, schemas),
        "responses": {},
    }
    if spec.description:
        operation["description"] = spec.description
    if spec.body is not None:
        body_schema = schemas.ref(spec.body)
        operation["requestBody"] = {
            "required": True,
            "content": {media_type: {"schema": body_schema} for media_type in spec.body_types},
        }
    success: dict[str, Any] = {"description": "Success"}
    if spec.response is not None:
        success["content"] = {spec.response_type: {"schema": schemas.ref(spec.response)}}
    elif spec.response_type != JSON:
        success["content"] = {
            spec.response_type: {"schema": {"type": "string", "contentMediaType": spec.response_type}}
        }
    operation["responses"][str(spec.status)] = success
    error_statuses = set(spec.errors) | {503}
    if spec.body is not None:
        error_statuses |= {400, 413, 415, 422}
    if spec.query is not None:
        error_statuses.add(400)
    if route.params:
        error_statuses.add(404)
    if not spec.public:
        error_statuses |= {401, 403}
        operation["security"] = [{"oauth2": list(spec.scopes)}]
    else:
        operation["security"] = []
    for status in sorted(error_statuses):
        operation["responses"][str(status)] = {
            "description": _ERROR_DESCRIPTIONS.get(status, "Error"),
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    return operation


def build_openapi(
    *, service: str, title: str, version: str, description: str, issuer: str, routes: list[Route]
) -> dict[str, Any]:
    schemas = _Schemas()
    paths: dict[str, Any] = {}
    for route in routes:
        if not route.include_in_schema:
            continue
        for method in HTTP_METHODS:
            spec = endpoint_spec(getattr(route.handler, method, None))
            if spec is None:
                continue
            paths.setdefault(route.template, {})[method] = _operation(route, method, spec, schemas, service)
    issuer = issuer.rstrip("/")
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "paths": paths,
        "components": {
            "schemas": schemas.components,
            "securitySchemes": {
                "oauth2": {
                    "type": "oauth2",
                    "description": "JWT bearer tokens from the Dataflow authorization server",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": f"{issuer}/oauth2/token",
                            "scopes": dict(SCOPE_DESCRIPTIONS),
                        },
                    },
                }
            },
        },
    }
