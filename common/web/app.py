"""The Tornado application every service runs.

:class:`ServiceApp` wires what all services share: the MongoDB client, the
token validator, the audit trail, metrics, readiness checks, the OpenAPI
document and the standard routes (``/healthz``, ``/readyz``, ``/metrics``,
``/openapi.json``). A service passes its own routes, startup hooks and, if
it needs them, extra readiness checks.

Startup hooks (creating indexes, loading keys) need MongoDB; when it is down
at boot the service still starts, answers ``/healthz``, reports not-ready on
``/readyz`` and keeps retrying the hooks in the background.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import tornado.web

from common.audit import AuditLog
from common.auth import JwksKeySource, KeySource, TokenValidator
from common.kafka import KafkaHealth
from common.mongo import create_mongo_client, default_database, ping
from common.settings import Settings
from common.web.handlers import (
    HealthHandler,
    MetricsHandler,
    NotFoundHandler,
    OpenApiHandler,
    ReadinessHandler,
    run_check,
)
from common.web.metrics import ServiceMetrics
from common.web.openapi import build_openapi
from common.web.routes import Route, route

log = logging.getLogger(__name__)

Hook = Callable[["ServiceApp"], Awaitable[None]]
Check = Callable[[], Awaitable[Any]]

READINESS_TIMEOUT_S = 2.0


class ServiceApp(tornado.web.Application):
    def __init__(
        self,
        *,
        service: str,
        title: str,
        version: str,
        config: Settings,
        routes: list[Route],
        description: str = "",
        key_source: KeySource | None = None,
        startup: list[Hook] | None = None,
        shutdown: list[Hook] | None = None,
        readiness: dict[str, Check] | None = None,
        needs: tuple[str, ...] = ("mongodb", "kafka"),
        **tornado_settings: Any,
    ) -> None:
        self.service = service
        self.title = title
        self.version = version
        self.description = description
        self.config = config
        self.mongo = create_mongo_client(config)
        self.db = default_database(self.mongo)
        self.metrics = ServiceMetrics(service, version)
        self.audit = AuditLog(self.db)
        self.token_validator = TokenValidator(
            issuer=config.oauth_issuer,
            audience=config.oauth_audience,
            key_source=key_source
            or JwksKeySource(
                config.jwks_url,
                cache_s=config.oauth_jwks_cache_s,
                min_refresh_s=config.oauth_jwks_min_refresh_s,
            ),
            leeway_s=config.oauth_leeway_s,
        )
        self.kafka_health = KafkaHealth(config) if "kafka" in needs else None
        self._startup_hooks: list[Hook] = [
            *([_audit_indexes] if "mongodb" in needs else []),
            *(startup or []),
        ]
        self._shutdown_hooks = list(shutdown or [])
        self._readiness_checks: dict[str, Check] = {}
        if "mongodb" in needs:
            self._readiness_checks["mongodb"] = lambda: ping(self.db)
        if self.kafka_health is not None:
            self._readiness_checks["kafka"] = self.kafka_health.check_async
        self._readiness_checks.update(readiness or {})
        self.started = asyncio.Event()
        self._startup_task: asyncio.Task[None] | None = None
        self._openapi: dict[str, Any] | None = None
        self.routes = [
            route("/healthz", HealthHandler, include_in_schema=False),
            route("/readyz", ReadinessHandler, include_in_schema=False),
            route("/metrics", MetricsHandler, include_in_schema=False),
            route("/openapi.json", OpenApiHandler, include_in_schema=False),
            *routes,
        ]
        super().__init__(
            [r.url_spec() for r in self.routes],
            default_handler_class=NotFoundHandler,
            log_function=lambda handler: None,  # BaseHandler.on_finish writes the access log
            **tornado_settings,
        )

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        """Run the startup hooks in the background until they succeed."""
        self._startup_task = asyncio.get_running_loop().create_task(self._run_startup())

    async def _run_startup(self) -> None:
        delay = 0.5
        while True:
            try:
                for hook in self._startup_hooks:
                    await hook(self)
            except Exception as exc:  # noqa: BLE001 - retried; readiness reports the state meanwhile
                log.warning("startup not complete, retrying in %.1fs: %s", delay, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self.started.set()
            log.info("%s ready", self.service)
            return

    async def stop(self) -> None:
        if self._startup_task is not None:
            self._startup_task.cancel()
        for hook in self._shutdown_hooks:
            try:
                await hook(self)
            except Exception:
                log.warning("shutdown hook failed", exc_info=True)
        await self.audit.flush()
        if self.kafka_health is not None:
            await asyncio.to_thread(self.kafka_health.close)
        await self.mongo.close()

    # -- readiness and documents ---------------------------------------------------------

    async def check_readiness(self) -> dict[str, str]:
        results = await asyncio.gather(
            *(run_check(name, check(), READINESS_TIMEOUT_S) for name, check in self._readiness_checks.items())
        )
        checks = dict(results)
        checks["startup"] = "ok" if self.started.is_set() else "in progress"
        return checks

    def openapi(self) -> dict[str, Any]:
        if self._openapi is None:
            self._openapi = build_openapi(
                service=self.service,
                title=self.title,
                version=self.version,
                description=self.description,
                issuer=self.config.oauth_issuer,
                routes=self.routes,
            )
        return self._openapi


async def _audit_indexes(app: ServiceApp) -> None:
    await app.audit.ensure_indexes()
