"""Helpers shared by the ecron integration tests (no tests here): a recording HTTP target and a cuttable TCP proxy."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.integration.fixtures.platform import free_port, wait_until


class Target:
    """A local HTTP server that records every request; ``/fail`` answers 500, ``/slow?s=N`` answers after N s."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        target = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _record(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                entry = {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": json.loads(raw) if raw else None,
                    "at": time.time(),
                }
                with target.lock:
                    target.requests.append(entry)
                if self.path.startswith("/slow"):
                    time.sleep(float(self.path.split("s=")[1]))
                status = 500 if self.path.startswith("/fail") else 200
                payload = b'{"ok": true}'
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the caller gave up (timeout) or died

            do_GET = do_POST = do_PUT = _record

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def matching(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.requests if r["path"].startswith(path)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class CuttableProxy:
    """A TCP proxy to MongoDB that a test can cut (all connections dropped, new ones refused) and restore."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = free_port()
        self.cut = threading.Event()
        self.sockets: list[socket.socket] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with suppress(OSError):
                    s.close()

    def interrupt(self) -> None:
        self.cut.set()
        with self.lock:
            for s in self.sockets:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                    s.close()
                except OSError:
                    pass
            self.sockets.clear()

    def restore(self) -> None:
        self.cut.clear()

    def close(self) -> None:
        self.interrupt()
        self.listener.close()


@contextmanager
def recording_target() -> Iterator[Target]:
    target = Target()
    try:
        yield target
    finally:
        target.close()


def execution_list(client: httpx.Client, job_id: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 500, **({"cursor": cursor} if cursor else {})}
        response = client.get(f"/api/v1/jobs/{job_id}/executions", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        items += body["items"]
        cursor = body["next_cursor"]
        if not cursor:
            return items


def wait_for_execution(client: httpx.Client, execution_id: str, timeout: float = 30) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        response = client.get(f"/api/v1/executions/{execution_id}")
        body = response.json()
        return body if body.get("status") in ("succeeded", "failed", "skipped", "missed") else None

    return wait_until(finished, timeout=timeout, interval=0.2, message=f"execution {execution_id} to finish")


def every_second_job(name: str, action: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": name, "schedule": {"cron": "* * * * * *"}, "action": action, **extra}
