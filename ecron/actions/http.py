"""HTTP actions: one request per attempt, through one shared connection pool."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from ecron.actions.errors import ActionFailed
from ecron.constants import RESPONSE_SUMMARY_CHARS
from ecron.models import HttpAction
from ecron.service_tokens import ServiceTokens
from ecron.templates import render, render_text


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    action: HttpAction
    url: str
    headers: dict[str, str]
    content: bytes | None


class HttpRunner:
    def __init__(self, tokens: ServiceTokens, max_timeout_s: float) -> None:
        self.tokens = tokens
        self.max_timeout_s = max_timeout_s
        self.client = httpx.AsyncClient(
            limits=httpx.Limits(max_connections=500, max_keepalive_connections=100), follow_redirects=False
        )

    def prepare(self, action: HttpAction, variables: dict[str, str]) -> PreparedRequest:
        """The request with its templates filled in (done before the fire time)."""
        url = render_text(action.url, variables)
        headers = {name: render_text(value, variables) for name, value in action.headers.items()}
        headers.setdefault("X-Ecron-Execution-Id", variables["execution_id"])
        content = None
        if action.body is not None and action.method not in ("GET", "HEAD"):
            content = json.dumps(render(action.body, variables), separators=(",", ":")).encode()
            headers.setdefault("Content-Type", "application/json")
        return PreparedRequest(action=action, url=url, headers=headers, content=content)

    async def run(self, request: PreparedRequest) -> dict[str, Any]:
        action, url, content = request.action, request.url, request.content
        headers = dict(request.headers)
        wants_token = action.auth == "service" or (action.auth == "auto" and self.tokens.is_dataflow_service(url))
        if wants_token and not any(name.lower() == "authorization" for name in headers):
            headers["Authorization"] = f"Bearer {await self.tokens.token(self.client)}"
        timeout = min(action.timeout_s, self.max_timeout_s)
        try:
            response = await self.client.request(action.method, url, content=content, headers=headers, timeout=timeout)
        except httpx.TimeoutException as exc:
            raise ActionFailed(f"{action.method} {url} timed out after {timeout:g}s") from exc
        except httpx.HTTPError as exc:
            raise ActionFailed(f"{action.method} {url} failed: {type(exc).__name__}: {exc}") from exc
        summary = {"status_code": response.status_code, "body": response.text[:RESPONSE_SUMMARY_CHARS]}
        ok = response.status_code in action.expected_status if action.expected_status else response.is_success
        if not ok:
            expected = action.expected_status or "2xx"
            raise ActionFailed(
                f"{action.method} {url} answered {response.status_code}, expected {expected}", response=summary
            )
        return summary

    async def close(self) -> None:
        await self.client.aclose()
