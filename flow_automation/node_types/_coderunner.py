"""Calling coderunner's API from a node: limits, cancellation and errors in one place.

The request runs in a helper thread while the node's thread watches
``context.cancelled``, so a cancel or a task timeout stops the node at once
(the abandoned request finishes in coderunner and its answer is dropped).

coderunner's answers map to what the executor needs to know: a refusal the
flow author can fix (400, 413, 415, 422) is a :class:`NodeError` carrying
coderunner's message; an overloaded or unreachable coderunner (429, 503, a
transport error) is a :class:`~common.errors.DependencyUnavailable`, which
the executor's retries are for.
"""

from __future__ import annotations

import concurrent.futures
from typing import Any

import httpx

from common.errors import DependencyUnavailable
from flow_automation.coderunner_client import CoderunnerUnreachable
from flow_automation.node_types._base import NodeCanceled, NodeContext, NodeError

#: Extra seconds the HTTP call may take beyond the work's own limit (queueing, transfer).
HTTP_MARGIN_S = 30.0
#: How often a waiting node looks at ``context.cancelled``.
CANCEL_POLL_S = 0.1

_calls = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="dataflow-coderunner")


def post(context: NodeContext[Any], path: str, body: dict[str, Any], *, work_timeout_s: float) -> httpx.Response:
    """POST ``body`` to coderunner's ``path``; the 2xx response, or the error the executor should see."""
    client = context.require_services().coderunner()
    if context.cancelled.is_set():
        raise NodeCanceled(f"node {context.node_id} was canceled before calling coderunner")
    future = _calls.submit(client.post, path, json=body, timeout=work_timeout_s + HTTP_MARGIN_S)
    while True:
        try:
            response = future.result(timeout=CANCEL_POLL_S)
            break
        except concurrent.futures.TimeoutError:
            if context.cancelled.is_set():
                future.cancel()
                raise NodeCanceled(f"node {context.node_id} was canceled while coderunner worked") from None
        except CoderunnerUnreachable as exc:
            raise DependencyUnavailable(f"coderunner is unreachable ({exc})") from exc
    return checked(response, path)


def checked(response: httpx.Response, path: str) -> httpx.Response:
    if response.is_success:
        return response
    message = _error_message(response)
    if response.status_code in (429, 502, 503, 504):
        raise DependencyUnavailable(f"coderunner is busy or unavailable ({response.status_code}): {message}")
    if response.status_code in (401, 403):
        raise DependencyUnavailable(
            f"coderunner refused the executor's service token ({response.status_code}): {message}"
        )
    if 400 <= response.status_code < 500:
        raise NodeError(f"coderunner refused the request ({response.status_code}): {message}")
    raise DependencyUnavailable(f"coderunner failed on {path} ({response.status_code}): {message}")


def _error_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or response.reason_phrase
    message = str(error.get("message", ""))
    details = error.get("details")
    if isinstance(details, list):
        fields = [f"{item.get('field')}: {item.get('message')}" for item in details if isinstance(item, dict)]
        message += (" (" + "; ".join(fields[:5]) + ")") if fields else ""
    return message
