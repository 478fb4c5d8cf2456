"""flow_web against the real services: the built bundle, and the proxy that gives the browser one origin.

``/api/<service>/...`` reaches each service with the caller's token, method,
query and body, and brings back its status, headers and body unchanged; a
run's Server-Sent Events arrive event by event while the run is still going;
the sign-in routes (``/oauth2``, ``/.well-known``) reach flow_automation; a
service that is down is a JSON 502, an unknown one a JSON 404.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.fixtures.platform import API_SERVICES, Platform, free_port, wait_until
from tests.integration.fixtures.servers import REPO
from tests.local_http import JsonHandler, serve

pytestmark = pytest.mark.integration

BUNDLE = REPO / "flow_web" / "frontend" / "dist"


@pytest.fixture(scope="module")
def built_bundle() -> Path:
    """The front end is built (a no-op when scripts/frontend.sh already built these sources)."""
    result = subprocess.run(
        ["bash", str(REPO / "scripts" / "frontend.sh")], cwd=REPO, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, f"scripts/frontend.sh failed:\n{result.stdout}\n{result.stderr}"
    assert (BUNDLE / "index.html").is_file()
    return BUNDLE


@pytest.fixture
def web(platform: Platform, built_bundle: Path) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=platform.url("flow_web"), timeout=30, trust_env=False) as client:
        yield client


def bearer(platform: Platform, scopes: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {platform.token(scopes)}"}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# -- the bundle ----------------------------------------------------------------------------


def test_app_routes_serve_index_html_revalidated_every_time(web: httpx.Client) -> None:
    for path in ("/", "/flows", "/flows/daily-sales/versions", "/auth/callback?code=x&state=y"):
        response = web.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        assert '<div id="root"></div>' in response.text
        assert re.search(r'src="/assets/index-[\w-]+\.js"', response.text)


def test_hashed_assets_are_cached_for_a_year(web: httpx.Client, built_bundle: Path) -> None:
    script = re.search(r'src="(/assets/[^"]+\.js)"', web.get("/").text)
    assert script is not None
    response = web.get(script.group(1))
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert "javascript" in response.headers["content-type"]
    assert response.content == (built_bundle / script.group(1).lstrip("/")).read_bytes()
    again = web.get(script.group(1), headers={"If-None-Match": response.headers["etag"]})
    assert again.status_code == 304


def test_a_missing_file_is_a_json_404_not_the_app(web: httpx.Client) -> None:
    for path in ("/assets/index-missing.js", "/favicon-missing.png"):
        response = web.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"


def test_without_a_bundle_every_page_says_how_to_build_it(tmp_path: Path) -> None:
    port = free_port()
    launcher = (
        "import pathlib, sys; from functools import partial; "
        "from common.web.server import run_service; from flow_web.app import build_app; "
        "run_service('flow_web', partial(build_app, bundle_dir=pathlib.Path(sys.argv[1])), ['--port', sys.argv[2]])"
    )
    process = subprocess.Popen(
        [sys.executable, "-c", launcher, str(tmp_path / "dist"), str(port)],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: httpx.get(f"{url}/healthz", timeout=2).status_code == 200, timeout=30, message="flow_web")
        for path in ("/", "/flows/x"):
            response = httpx.get(url + path, timeout=10)
            assert response.status_code == 503
            assert response.headers["content-type"].startswith("text/html")
            assert "The web UI is not built yet" in response.text
            assert "scripts/frontend.sh" in response.text
        assert httpx.get(f"{url}/assets/index.js", timeout=10).status_code == 404
    finally:
        process.terminate()
        process.wait(timeout=20)


# -- the proxy -------------------------------------------------------------------------------


@pytest.mark.parametrize("service", API_SERVICES)
def test_each_service_answers_behind_its_prefix_with_the_callers_token(
    platform: Platform, web: httpx.Client, service: str
) -> None:
    response = web.get(f"/api/{service}/api/v1/whoami", headers=bearer(platform, "flows:read"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["service"] == service
    assert body["client_id"] == platform.credentials["client_id"]
    assert body["scopes"] == ["flows:read"]


def test_status_and_headers_of_a_refusal_come_back_unchanged(web: httpx.Client) -> None:
    response = web.get("/api/flow_automation/api/v1/flows", headers={"X-Request-ID": "proxy-test-1"})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.headers["x-request-id"] == "proxy-test-1"
    assert response.json()["error"]["code"] == "unauthenticated"


def test_methods_bodies_and_queries_reach_the_service(platform: Platform, web: httpx.Client) -> None:
    headers = bearer(platform)
    name = unique("Proxy flow")
    flow = {"name": name, "nodes": [{"id": "start", "type": "noop"}]}
    created = web.post("/api/flow_automation/api/v1/flows", json=flow, headers=headers)
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]

    found = web.get("/api/flow_automation/api/v1/flows", params={"q": name, "limit": 5}, headers=headers)
    assert [item["id"] for item in found.json()["items"]] == [flow_id]

    yaml_body = f"name: {name}\ndescription: from YAML\nnodes:\n  - id: start\n    type: noop\n"
    saved = web.put(
        f"/api/flow_automation/api/v1/flows/{flow_id}",
        content=yaml_body.encode(),
        headers={**headers, "Content-Type": "application/yaml"},
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["version"] == 2 and saved.json()["definition"]["description"] == "from YAML"

    invalid = web.post(
        "/api/flow_automation/api/v1/flows/validate",
        json={"name": "bad", "nodes": [{"id": "a", "type": "python", "config": {}}]},
        headers=headers,
    )
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"]["errors"][0]["node"] == "a"

    exported = web.get(f"/api/flow_automation/api/v1/flows/{flow_id}/export", headers=headers)
    assert exported.headers["content-disposition"] == f'attachment; filename="{flow_id}.yaml"'
    assert "from YAML" in exported.text

    deleted = web.delete(f"/api/flow_automation/api/v1/flows/{flow_id}", headers=headers)
    assert deleted.status_code == 200 and deleted.json()["deleted"] is True
    gone = web.get(f"/api/flow_automation/api/v1/flows/{flow_id}", headers=headers)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


def test_large_bodies_stream_through_and_meet_the_services_own_limit(platform: Platform, web: httpx.Client) -> None:
    headers = bearer(platform)
    description = "x" * (3 * 1024 * 1024)
    flow = {"name": "big", "description": description, "nodes": [{"id": "start", "type": "noop"}]}
    response = web.post("/api/flow_automation/api/v1/flows/validate", json=flow, headers=headers)
    assert response.status_code == 200, response.text[:300]
    assert response.json() == {"valid": True, "errors": [], "nodes": 1}
    too_large = web.post(
        "/api/flow_automation/api/v1/flows/validate",
        content=b"{" + b" " * (11 * 1024 * 1024) + b"}",
        headers={**headers, "Content-Type": "application/json"},
    )
    assert too_large.status_code == 413
    assert too_large.json()["error"]["code"] == "payload_too_large"


def test_sign_in_routes_reach_flow_automation(platform: Platform, web: httpx.Client) -> None:
    discovery = web.get("/.well-known/openid-configuration")
    assert discovery.status_code == 200
    assert discovery.json() == httpx.get(f"{platform.issuer}/.well-known/openid-configuration", timeout=10).json()
    token = web.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "cron:read"},
        auth=(platform.credentials["client_id"], platform.credentials["client_secret"]),
    )
    assert token.status_code == 200, token.text
    assert token.json()["scope"] == "cron:read"
    keys = web.get("/oauth2/jwks")
    assert keys.status_code == 200 and keys.json()["keys"]


def test_an_unknown_service_is_a_json_404(platform: Platform, web: httpx.Client) -> None:
    response = web.get("/api/nosuchservice/api/v1/whoami", headers=bearer(platform))
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["code"] == "not_found"
    assert "nosuchservice" in error["message"]
    assert error["details"]["services"] == list(API_SERVICES)


def test_a_service_that_is_down_is_a_json_502(platform: Platform, built_bundle: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    service = platform.start("flow_web", extra_env={"DATAFLOW_ECRON_URL": dead})
    platform.services[f"flow_web-ecron-down-{service.port}"] = service
    response = httpx.get(f"{service.url}/api/ecron/api/v1/jobs", headers=bearer(platform), timeout=30)
    assert response.status_code == 502
    error = response.json()["error"]
    assert error["code"] == "bad_gateway"
    assert "ecron cannot be reached" in error["message"]
    # The other services are still reachable through the same flow_web.
    alive = httpx.get(f"{service.url}/api/coderunner/api/v1/whoami", headers=bearer(platform), timeout=30)
    assert alive.status_code == 200


def test_a_browser_that_leaves_before_the_answer_ends_the_call_quietly(platform: Platform) -> None:
    """The browser aborts (a navigation, an AbortController) while the service still works: no error."""
    request_id = unique("abort")
    body = json.dumps({"code": "total = 0\nfor i in range(3000000):\n    total += i\nresult = total", "inputs": {}})
    head = (
        "POST /api/coderunner/api/v1/execute HTTP/1.1\r\n"
        "Host: 127.0.0.1\r\n"
        f"Authorization: Bearer {platform.token('code:execute')}\r\n"
        f"X-Request-ID: {request_id}\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    flow_web = platform.services["flow_web"]
    with socket.create_connection(("127.0.0.1", flow_web.port), timeout=10) as sock:
        sock.sendall(head.encode() + body.encode())
    wait_until(
        lambda: any(
            line.get("request_id") == request_id and line.get("logger") == "dataflow.access"
            for line in flow_web.log_lines()
        ),
        timeout=30,
        message="flow_web to end the aborted call",
    )
    problems = [
        line for line in flow_web.log_lines() if line.get("request_id") == request_id and line.get("level") == "error"
    ]
    assert not problems, problems


# -- event streams ---------------------------------------------------------------------------


class Gate:
    """An HTTP endpoint that answers only once released: keeps a run going as long as a test needs."""

    def __init__(self) -> None:
        self.released = threading.Event()
        gate = self

        class Handler(JsonHandler):
            def do_GET(self) -> None:
                gate.released.wait(120)
                self.answer(200, {"ok": True})

        self.server, base = serve(Handler)
        self.url = f"{base}/wait"

    def close(self) -> None:
        self.released.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gate() -> Iterator[Gate]:
    opened = Gate()
    yield opened
    opened.close()


def read_events(
    lines: Iterator[str], deadline: float, until: str | None = None, count: int = 1
) -> list[dict[str, str]]:
    """Events of an SSE line stream (comments skipped): ``count`` of them, or up to one whose data has ``until``."""
    events: list[dict[str, str]] = []
    current: dict[str, str] = {}
    for line in lines:
        if time.monotonic() > deadline:
            break
        if line == "":
            if current:
                events.append(current)
                done = until in current.get("data", "") if until else len(events) == count
                current = {}
                if done:
                    break
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        current[field] = value.lstrip(" ")
    return events


def finished_event_streams(platform: Platform, run_id: str) -> int:
    """How many event streams of the run flow_automation has ended (its access log lines)."""
    path = f"/api/v1/runs/{run_id}/events"
    return sum(
        1
        for line in platform.services["flow_automation"].log_lines()
        if line.get("logger") == "dataflow.access" and line.get("path") == path and line.get("status") == 200
    )


def test_run_events_stream_through_event_by_event_and_resume_after_last_event_id(
    platform: Platform, web: httpx.Client, gate: Gate
) -> None:
    headers = bearer(platform)
    flow = {
        "name": unique("Proxy events"),
        "nodes": [{"id": "wait", "type": "http.request", "config": {"url": gate.url, "request_timeout_s": 120}}],
    }
    flow_id = web.post("/api/flow_automation/api/v1/flows", json=flow, headers=headers).json()["id"]
    run = web.post(f"/api/flow_automation/api/v1/flows/{flow_id}/runs", json={}, headers=headers)
    assert run.status_code == 201, run.text
    run_id = run.json()["id"]
    events_path = f"/api/flow_automation/api/v1/runs/{run_id}/events"
    sse_headers = {**headers, "Accept": "text/event-stream"}
    timeout = httpx.Timeout(30, read=60)

    with web.stream("GET", events_path, headers=sse_headers, timeout=timeout) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        # The run cannot end while the gate is closed: this event arrives while the stream is open.
        first = read_events(lines, time.monotonic() + 30)
        assert first and first[0]["event"] == "run" and first[0]["id"].isdigit()
        canceled = web.post(f"/api/flow_automation/api/v1/runs/{run_id}/cancel", headers=headers)
        assert canceled.status_code in (200, 202), canceled.text
        rest = read_events(lines, time.monotonic() + 30, until='"canceled"')
    assert rest and '"canceled"' in rest[-1]["data"], rest

    with web.stream(
        "GET", events_path, headers={**sse_headers, "Last-Event-ID": first[0]["id"]}, timeout=timeout
    ) as resumed:
        replay = read_events(resumed.iter_lines(), time.monotonic() + 30, until='"canceled"')
    assert replay and '"canceled"' in replay[-1]["data"], replay
    assert all(int(event["id"]) > int(first[0]["id"]) for event in replay if "id" in event)

    # Closing the browser's side ends the service's stream too: no stream is left behind.
    wait_until(lambda: finished_event_streams(platform, run_id) >= 2, timeout=40, message="the upstream streams to end")

    refused = web.get(events_path, headers={**sse_headers, "Last-Event-ID": "not-a-number"})
    assert refused.status_code == 400
    assert "Last-Event-ID" in refused.json()["error"]["message"]
