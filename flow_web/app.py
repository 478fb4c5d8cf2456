"""The flow_web application: the UI's static files (a placeholder page for now)."""

from __future__ import annotations

import httpx
import tornado.web

from common.settings import Settings
from common.web import BaseHandler, ServiceApp, route
from common.web.whoami import WhoAmIHandler
from flow_web import __version__
from flow_web.constants import SERVICE, STATIC_DIR


class IndexHandler(BaseHandler):
    async def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-cache")
        self.finish((STATIC_DIR / "index.html").read_bytes())


def build_app(settings: Settings) -> ServiceApp:
    async def orchestrator_alive() -> None:
        async with httpx.AsyncClient(timeout=2.0) as client:
            response = await client.get(f"{settings.flow_automation_url.rstrip('/')}/healthz")
            response.raise_for_status()

    return ServiceApp(
        service=SERVICE,
        title="Dataflow web UI",
        version=__version__,
        description="The visual pipeline designer and monitoring UI.",
        config=settings,
        routes=[
            route("/", IndexHandler, include_in_schema=False),
            route("/static/(.*)", tornado.web.StaticFileHandler, include_in_schema=False, path=str(STATIC_DIR)),
            route("/api/v1/whoami", WhoAmIHandler),
        ],
        needs=(),
        readiness={"flow_automation": orchestrator_alive},
    )
