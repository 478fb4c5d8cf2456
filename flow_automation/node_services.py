"""The services an executor lends to the nodes it runs (:class:`~flow_automation.node_types.NodeServices`).

One :class:`ExecutorServices` per executor process, shared by every task it
runs (node code runs in worker threads, so everything here is thread-safe):
data connections looked up and decrypted on demand and kept for a few
seconds, one pooled HTTP client for coderunner
(:mod:`flow_automation.coderunner_client`) carrying the executor's own
service token, and child runs through a ``subflow_runner`` the executor
injects (the engine owns runs; this module does not).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from common.errors import NotFound
from common.service_auth import ServiceTokenAuth, service_auth
from common.settings import Settings
from flow_automation.coderunner_client import CoderunnerClient
from flow_automation.connections import ConnectionLookup, SecretKeyError
from flow_automation.node_types import DataConnection, NodeError

log = logging.getLogger(__name__)

#: ``run_subflow``'s signature: ``(flow_id, *, params, version, timeout_s) -> outputs``.
SubflowRunner = Callable[..., dict[str, Any]]

#: Connections are re-read after this long, so a changed password reaches running executors.
CONNECTION_CACHE_S = 30.0
#: Connect timeout of the coderunner client; read timeouts are set per call by the nodes.
CODERUNNER_CONNECT_TIMEOUT_S = 10.0


class ExecutorServices:
    """The concrete :class:`NodeServices`: connections, coderunner and subflows for an executor's tasks."""

    def __init__(self, settings: Settings, *, subflow_runner: SubflowRunner | None = None) -> None:
        self.settings = settings
        self.subflow_runner = subflow_runner
        self._connections = ConnectionLookup(settings, cache_s=CONNECTION_CACHE_S)
        self._coderunner: CoderunnerClient | None = None
        self._lock = threading.Lock()

    def connection(self, connection_id: str) -> DataConnection:
        try:
            return self._connections.get(connection_id)
        except NotFound:
            raise NodeError(
                f"connection {connection_id!r} does not exist; create it under /api/v1/connections "
                "or pick another in the node's config"
            ) from None
        except SecretKeyError as exc:
            raise NodeError(exc.message) from None

    def coderunner(self) -> CoderunnerClient:
        with self._lock:
            if self._coderunner is None:
                self._coderunner = CoderunnerClient(
                    self.settings.coderunner_url,
                    service_auth(self.settings),
                    connect_timeout_s=CODERUNNER_CONNECT_TIMEOUT_S,
                )
            return self._coderunner

    def keep_token_fresh(self) -> None:
        """Fetch (or renew, shortly before it expires) the token for coderunner now, off the tasks' path.

        Issuing a token costs the issuer a slow secret check (about 0.2 s), so
        the first python or document node of an executor, and the first one
        after each renewal, paid for it; the executor calls this at start and
        then every few seconds from a worker thread. Best effort: a task that
        finds no valid token fetches one itself, as before.
        """
        try:
            auth = self.coderunner().auth
            if isinstance(auth, ServiceTokenAuth):
                auth.token()
        except Exception as exc:  # noqa: BLE001 - no credentials or issuer yet: a task fetches the token itself
            log.debug("fetching the service token ahead failed: %s", exc)

    def run_subflow(
        self, flow_id: str, *, params: Mapping[str, Any], version: int | None, timeout_s: float | None
    ) -> dict[str, Any]:
        if self.subflow_runner is None:
            raise NodeError(f"this executor cannot start child runs, so subflow {flow_id!r} cannot run here")
        return self.subflow_runner(flow_id, params=params, version=version, timeout_s=timeout_s)

    def close(self) -> None:
        with self._lock:
            if self._coderunner is not None:
                self._coderunner.close()
                self._coderunner = None
        self._connections.close()

    def __enter__(self) -> ExecutorServices:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
