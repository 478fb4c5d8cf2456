"""``http.request``: call an HTTP API and pass on its response.

The input ``body`` is sent as JSON (a table as a list of records), as text,
or as a form. The response comes out as JSON, text, bytes, or a table (from
a JSON list of objects); ``status`` carries the status code and headers. A
status outside ``expected_status`` (any 2xx when empty) fails the node with
the start of the response body. The executor's retries and timeout apply on
top of the per-request timeout. Credentials in the URL never appear in
messages.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

import httpx
import pandas as pd
from pydantic import Field, HttpUrl

from common.sandbox.values import UnserializableResult, encode_value
from flow_automation.node_types._base import NodeConfig, NodeContext, NodeError, NodeType, Port, PortKind

#: How much of an unexpected response's body goes into the error message.
BODY_EXCERPT_CHARS = 300


class HttpRequestConfig(NodeConfig):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = Field("GET", title="Method")
    url: HttpUrl = Field(title="URL", description="http or https URL")
    headers: dict[str, str] = Field(default_factory=dict, title="Headers")
    query: dict[str, str] = Field(default_factory=dict, title="Query parameters")
    body_format: Literal["json", "text", "form"] = Field(
        "json", title="Body format", description="how the input 'body' is sent"
    )
    response_format: Literal["json", "text", "bytes", "table"] = Field(
        "json", title="Response format", description="table: a JSON list of records becomes a table"
    )
    expected_status: list[int] = Field(
        default_factory=list,
        title="Expected status codes",
        description="the node fails on any other status; empty: any 2xx",
        json_schema_extra={"items": {"type": "integer", "minimum": 100, "maximum": 599}},
    )
    request_timeout_s: float = Field(30.0, gt=0, le=3600, title="Timeout (s)", description="for one attempt")


def run(context: NodeContext[HttpRequestConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    config = context.config
    url = str(config.url)
    timeout_s = min(config.request_timeout_s, context.timeout_s or config.request_timeout_s)
    try:
        with httpx.Client(timeout=timeout_s, follow_redirects=True) as client:
            response = client.request(
                config.method, url, params=config.query, headers=config.headers, **request_body(config, inputs)
            )
    except httpx.TimeoutException:
        raise NodeError(
            f"{config.method} {safe_url(url)} took longer than {timeout_s:g} s (field 'request_timeout_s')"
        ) from None
    except httpx.HTTPError as exc:
        raise NodeError(
            f"{config.method} {safe_url(url)} failed: {type(exc).__name__}: {str(exc).replace(url, safe_url(url))}"
        ) from None
    expected = config.expected_status
    if (response.status_code not in expected) if expected else not response.is_success:
        wanted = expected or "a 2xx status"
        raise NodeError(
            f"{config.method} {safe_url(url)} answered {response.status_code}, expected {wanted} "
            f"(field 'expected_status'): {response.text[:BODY_EXCERPT_CHARS]}"
        )
    return {
        "response": response_value(response, config.response_format),
        "status": {"status_code": response.status_code, "headers": dict(response.headers)},
    }


def request_body(config: HttpRequestConfig, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """httpx's keyword for the input ``body`` in the configured format (nothing when it is not connected)."""
    if inputs.get("body") is None:
        return {}
    body = inputs["body"]
    if config.body_format == "text":
        return {"content": body if isinstance(body, str | bytes) else json.dumps(_jsonable(body))}
    if config.body_format == "form":
        if not isinstance(body, Mapping):
            raise NodeError(f"input 'body' must be a JSON object to send as a form, got {type(body).__name__}")
        return {"data": {str(key): "" if value is None else str(value) for key, value in body.items()}}
    if isinstance(body, bytes):
        return {"content": body}
    if isinstance(body, pd.DataFrame):
        return {"json": json.loads(body.to_json(orient="records", date_format="iso"))}
    return {"json": _jsonable(body)}


def _jsonable(body: Any) -> Any:
    try:
        return encode_value(body)
    except UnserializableResult as exc:
        raise NodeError(f"input 'body' cannot be sent as JSON: {exc}") from None


def response_value(response: httpx.Response, response_format: str) -> Any:
    if response_format == "bytes":
        return response.content
    if response_format == "text":
        return response.text
    if not response.content:
        if response_format == "table":
            return pd.DataFrame()
        return None
    try:
        value = response.json()
    except ValueError:
        raise NodeError(
            f"the response is not JSON (field 'response_format' is {response_format!r}): "
            f"{response.text[:BODY_EXCERPT_CHARS]}"
        ) from None
    if response_format == "json":
        return value
    if isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
        return pd.DataFrame(value)
    raise NodeError("the response is not a JSON list of objects, so it cannot become a table (field 'response_format')")


def safe_url(url: str) -> str:
    """``url`` without user name and password."""
    parsed = httpx.URL(url)
    return str(parsed.copy_with(userinfo=b"")) if parsed.userinfo else url


NODE_TYPE = NodeType(
    id="http.request",
    title="HTTP request",
    category="HTTP",
    description="Call an HTTP API; the response body comes out as JSON, text, bytes or a table.",
    inputs=(Port(name="body", kind=PortKind.ANY, description="the request body", required=False),),
    outputs=(
        Port(name="response", kind=PortKind.ANY, description="the response body, in the configured format"),
        Port(name="status", kind=PortKind.JSON, description="{status_code, headers}"),
    ),
    config_model=HttpRequestConfig,
    run=run,
)
