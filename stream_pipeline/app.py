"""The stream_pipeline application: routes and wiring."""

from __future__ import annotations

from common.settings import Settings
from common.web import ServiceApp, route
from common.web.whoami import WhoAmIHandler
from stream_pipeline import __version__
from stream_pipeline.api.pipelines import PipelinesHandler
from stream_pipeline.constants import SERVICE


def build_app(settings: Settings) -> ServiceApp:
    return ServiceApp(
        service=SERVICE,
        title="Dataflow stream pipelines",
        version=__version__,
        description="Kafka consume, transform and sink pipelines with dead letters and consumer-group scale-out.",
        config=settings,
        routes=[
            route("/api/v1/whoami", WhoAmIHandler),
            route("/api/v1/pipelines", PipelinesHandler),
        ],
    )
