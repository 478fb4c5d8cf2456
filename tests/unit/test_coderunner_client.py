"""The executor's coderunner client against a small HTTP server on loopback: pooling, stale connections, 401s."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from flow_automation.coderunner_client import CoderunnerClient, CoderunnerUnreachable
from tests.local_http import JsonHandler, serve


class Tokens:
    """Hands out numbered tokens; ``renew`` draws the next one."""

    def __init__(self) -> None:
        self.number = 1

    def token(self, *, renew: bool = False) -> str:
        if renew:
            self.number += 1
        return f"t{self.number}"


class Server:
    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.connections: set[tuple[str, int]] = set()
        self.accepted_token = "t1"
        self.close_after_answer = False
        self.delay_s = 0.0
        server = self

        class Handler(JsonHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.connections.add(self.client_address)
                server.requests.append({"path": self.path, "body": body, "auth": self.headers["Authorization"]})
                time.sleep(server.delay_s)
                if self.headers["Authorization"] != f"Bearer {server.accepted_token}":
                    self.answer(401, {"error": {"message": "expired"}})
                else:
                    self.answer(200, {"echo": body})
                if server.close_after_answer:
                    self.close_connection = True  # closes without saying so: the client finds out on reuse

        self.http, base = serve(Handler)
        self.url = f"{base}/prefix"


@pytest.fixture
def server() -> Iterator[Server]:
    server = Server()
    yield server
    server.http.shutdown()
    server.http.server_close()


OPEN: list[CoderunnerClient] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while OPEN:
        OPEN.pop().close()


def client_for(url: str, tokens: Tokens | None = None) -> CoderunnerClient:
    client = CoderunnerClient(url, tokens or Tokens(), connect_timeout_s=2)  # type: ignore[arg-type]
    OPEN.append(client)
    return client


def test_posts_json_with_the_token_and_reuses_its_connection(server: Server) -> None:
    client = client_for(server.url)
    answers = [client.post("/api/v1/execute", json={"n": n, "text": "é"}, timeout=5) for n in range(3)]
    assert [a.json() for a in answers] == [{"echo": {"n": n, "text": "é"}} for n in range(3)]
    assert answers[0].is_success and answers[0].headers["content-type"] == "application/json"
    assert {r["path"] for r in server.requests} == {"/prefix/api/v1/execute"}
    assert {r["auth"] for r in server.requests} == {"Bearer t1"}
    assert len(server.connections) == 1


def test_a_connection_the_server_closed_while_idle_is_retried_once_on_a_new_one(server: Server) -> None:
    client = client_for(server.url)
    server.close_after_answer = True
    for n in range(3):
        assert client.post("/x", json={"n": n}, timeout=5).json() == {"echo": {"n": n}}
    assert [r["body"]["n"] for r in server.requests] == [0, 1, 2]  # each request reached the server once
    assert len(server.connections) == 3


def test_a_401_renews_the_token_once(server: Server) -> None:
    tokens = Tokens()
    server.accepted_token = "t2"
    answer = client_for(server.url, tokens).post("/x", json={}, timeout=5)
    assert answer.status_code == 200 and [r["auth"] for r in server.requests] == ["Bearer t1", "Bearer t2"]
    server.accepted_token = "never"
    refused = client_for(server.url, tokens).post("/x", json={}, timeout=5)
    assert refused.status_code == 401 and refused.json()["error"]["message"] == "expired"


def test_no_server_and_a_slow_answer_are_unreachable(server: Server) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(CoderunnerUnreachable, match="cannot connect"):
        client_for(f"http://127.0.0.1:{port}").post("/x", json={}, timeout=5)
    server.delay_s = 1.0
    with pytest.raises(CoderunnerUnreachable, match="timed out"):
        client_for(server.url).post("/x", json={}, timeout=0.2)


def test_refuses_a_url_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="http"):
        client_for("ftp://example/")
