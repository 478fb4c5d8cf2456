"""The flow_web application: the built front end, and one origin for every service.

Routes, in order: the standard ones of :class:`~common.web.ServiceApp`
(``/healthz``, ``/readyz``, ``/metrics``, ``/openapi.json``), flow_web's own
``/api/v1/whoami``, the proxy (:mod:`flow_web.proxy`: ``/api/<service>/...``,
``/oauth2/...``, ``/.well-known/...``), the hashed assets, and last every other
path, which is the single-page application (:mod:`flow_web.bundle`).
"""

from __future__ import annotations

from pathlib import Path

import httpx

from common.settings import Settings
from common.web import ServiceApp, route
from common.web.whoami import WhoAmIHandler
from flow_web import __version__
from flow_web.bundle import AppPageHandler, AssetHandler
from flow_web.constants import ASSETS_PREFIX, BUNDLE_DIR, SERVICE
from flow_web.proxy import PatternRoute, ServiceDirectory, proxy_routes


def build_app(settings: Settings, *, bundle_dir: Path = BUNDLE_DIR) -> ServiceApp:
    directory = ServiceDirectory(settings)

    async def orchestrator_alive() -> None:
        async with httpx.AsyncClient(timeout=2.0, trust_env=False) as client:
            response = await client.get(f"{settings.flow_automation_url.rstrip('/')}/healthz")
            response.raise_for_status()

    async def close_proxy(_: ServiceApp) -> None:
        await directory.close()

    return ServiceApp(
        service=SERVICE,
        title="Dataflow web UI",
        version=__version__,
        description="The visual pipeline designer and monitoring UI, and a proxy to every service's API.",
        config=settings,
        routes=[
            route("/api/v1/whoami", WhoAmIHandler),
            *proxy_routes(directory),
            route(
                f"/{ASSETS_PREFIX}/{{path}}",
                AssetHandler,
                include_in_schema=False,
                path=str(bundle_dir / ASSETS_PREFIX),
            ),
            PatternRoute(
                "/{page}",
                AppPageHandler,
                {"bundle_dir": bundle_dir},
                include_in_schema=False,
                pattern=r"/(?P<path>.*)$",
            ),
        ],
        needs=(),
        readiness={"flow_automation": orchestrator_alive},
        shutdown=[close_proxy],
    )
