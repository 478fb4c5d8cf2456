"""The error contract of ARCHITECTURE.md, on real service processes.

Bad input gets a JSON error with the right status and never a traceback:
malformed JSON 400, wrong content type 415, oversized body 413, invalid
content 422, unknown route 404, wrong method 405.
"""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.integration.fixtures.platform import SERVICES, Platform

pytestmark = pytest.mark.integration

LIMIT = 10 * 1024 * 1024  # the default DATAFLOW_MAX_BODY_BYTES


def _error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error"]["code"] == code, body
    assert "Traceback" not in response.text
    return body["error"]


def test_malformed_json_is_a_400(platform: Platform) -> None:
    with platform.client("flow_automation") as client:
        response = client.post(
            "/api/v1/clients", content=b'{"name": "x", "scopes": [', headers={"Content-Type": "application/json"}
        )
    assert "not valid JSON" in _error(response, 400, "invalid_argument")["message"]


def test_empty_body_is_a_400(platform: Platform) -> None:
    with platform.client("flow_automation") as client:
        response = client.post("/api/v1/clients", headers={"Content-Type": "application/json"})
    _error(response, 400, "invalid_argument")


def test_wrong_content_type_is_a_415(platform: Platform) -> None:
    with platform.client("flow_automation") as client:
        response = client.post("/api/v1/clients", content=b"name=x", headers={"Content-Type": "text/plain"})
    assert "text/plain" in _error(response, 415, "unsupported_media_type")["message"]


def test_invalid_content_is_a_422_naming_the_field(platform: Platform) -> None:
    with platform.client("flow_automation") as client:
        response = client.post("/api/v1/clients", json={"name": "x", "scopes": ["flows:read", "root"]})
    error = _error(response, 422, "invalid_definition")
    assert any(detail["field"] == "scopes.1" for detail in error["details"]), error


def test_oversized_body_is_a_413_and_nothing_is_created(platform: Platform) -> None:
    padding = "x" * (LIMIT + 1024)
    with platform.client("flow_automation") as client:
        response = client.post("/api/v1/clients", json={"name": "big", "scopes": ["flows:read"], "pad": padding})
        _error(response, 413, "payload_too_large")
        names = [item["name"] for item in client.get("/api/v1/clients").json()["items"]]
    assert "big" not in names


def test_oversized_chunked_body_is_a_413(platform: Platform) -> None:
    def chunks():
        for _ in range(11):
            yield b"x" * (1024 * 1024)

    with platform.client("flow_automation") as client:
        response = client.post("/api/v1/clients", content=chunks(), headers={"Content-Type": "application/json"})
    assert "Content-Length" not in response.request.headers  # really sent chunked
    _error(response, 413, "payload_too_large")


def test_absurd_content_length_is_refused_at_once(platform: Platform) -> None:
    with socket.create_connection(("127.0.0.1", platform.services["ecron"].port), timeout=10) as sock:
        sock.sendall(
            b"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 900000000\r\n\r\n"
        )
        reply = sock.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 413"), reply
    assert '"payload_too_large"' in reply


@pytest.mark.parametrize("service", SERVICES)
def test_unknown_route_is_a_json_404(platform: Platform, service: str) -> None:
    response = httpx.get(platform.url(service) + "/api/v1/no-such-thing", timeout=10)
    _error(response, 404, "not_found")


@pytest.mark.parametrize("service", ["flow_automation", "ecron"])
def test_wrong_method_is_a_json_405(platform: Platform, service: str) -> None:
    response = httpx.patch(platform.url(service) + "/api/v1/whoami", timeout=10)
    _error(response, 405, "method_not_allowed")


def test_request_id_is_echoed_or_assigned(platform: Platform) -> None:
    echoed = httpx.get(platform.url("ecron") + "/healthz", headers={"X-Request-ID": "trace-123"}, timeout=10)
    assert echoed.headers["X-Request-ID"] == "trace-123"
    assigned = httpx.get(platform.url("ecron") + "/healthz", timeout=10)
    assert len(assigned.headers["X-Request-ID"]) == 32


def test_unknown_client_is_a_404_naming_it(platform: Platform) -> None:
    with platform.client("flow_automation") as client:
        response = client.get("/api/v1/clients/ghost")
    assert "'ghost'" in _error(response, 404, "not_found")["message"]


def test_duplicate_client_id_is_a_409(platform: Platform) -> None:
    with platform.client("flow_automation") as client:
        first = client.post(
            "/api/v1/clients", json={"name": "dup", "scopes": ["flows:read"], "client_id": "dup-client"}
        )
        assert first.status_code == 201, first.text
        second = client.post(
            "/api/v1/clients", json={"name": "dup", "scopes": ["flows:read"], "client_id": "dup-client"}
        )
    _error(second, 409, "conflict")


def test_bad_query_parameter_is_a_400(platform: Platform) -> None:
    with platform.client("ecron") as client:
        response = client.get("/api/v1/jobs", params={"limit": "many"})
        _error(response, 400, "invalid_argument")
        response = client.get("/api/v1/jobs", params={"cursor": "not-a-cursor"})
        _error(response, 400, "invalid_argument")
