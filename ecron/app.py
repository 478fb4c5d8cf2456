"""The ecron application: routes and wiring."""

from __future__ import annotations

from common.settings import Settings
from common.web import ServiceApp, route
from common.web.whoami import WhoAmIHandler
from ecron import __version__
from ecron.api.jobs import JobsHandler
from ecron.constants import SERVICE


def build_app(settings: Settings) -> ServiceApp:
    return ServiceApp(
        service=SERVICE,
        title="Dataflow distributed cron",
        version=__version__,
        description="Cron, interval and one-shot jobs fired exactly once across any number of nodes.",
        config=settings,
        routes=[
            route("/api/v1/whoami", WhoAmIHandler),
            route("/api/v1/jobs", JobsHandler),
        ],
    )
