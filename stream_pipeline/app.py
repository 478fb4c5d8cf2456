"""The stream_pipeline application: routes and wiring.

The service owns definitions and answers questions about them; the work
itself happens in ``python -m stream_pipeline.worker`` processes.
"""

from __future__ import annotations

import asyncio

from common.settings import Settings
from common.web import ServiceApp, route
from common.web.whoami import WhoAmIHandler
from stream_pipeline import __version__
from stream_pipeline.api.dead_letters import DeadLettersHandler, ReplayHandler
from stream_pipeline.api.pipelines import (
    PipelineHandler,
    PipelinesHandler,
    StartHandler,
    StatusHandler,
    StopHandler,
)
from stream_pipeline.api.preview import PreviewHandler
from stream_pipeline.constants import SERVICE
from stream_pipeline.dead_letters import DeadLetterOffice
from stream_pipeline.pipelines import PipelineStore
from stream_pipeline.status import KafkaInspector


class StreamApp(ServiceApp):
    pipelines: PipelineStore
    inspector: KafkaInspector
    dead_letters: DeadLetterOffice


def build_app(settings: Settings) -> StreamApp:
    app = StreamApp(
        service=SERVICE,
        title="Dataflow stream pipelines",
        version=__version__,
        description="Kafka consume, transform and sink pipelines with dead letters and consumer-group scale-out.",
        config=settings,
        routes=[
            route("/api/v1/whoami", WhoAmIHandler),
            route("/api/v1/pipelines", PipelinesHandler),
            route("/api/v1/pipelines/{pipeline_id}", PipelineHandler),
            route("/api/v1/pipelines/{pipeline_id}/start", StartHandler),
            route("/api/v1/pipelines/{pipeline_id}/stop", StopHandler),
            route("/api/v1/pipelines/{pipeline_id}/status", StatusHandler),
            route("/api/v1/pipelines/{pipeline_id}/preview", PreviewHandler),
            route("/api/v1/pipelines/{pipeline_id}/dead-letters", DeadLettersHandler),
            route("/api/v1/pipelines/{pipeline_id}/dead-letters/replay", ReplayHandler),
        ],
        startup=[_indexes],
        shutdown=[_close_inspector],
    )
    app.pipelines = PipelineStore(app.db)
    app.inspector = KafkaInspector(settings)
    app.dead_letters = DeadLetterOffice(app.db, settings)
    return app


async def _indexes(app: ServiceApp) -> None:
    assert isinstance(app, StreamApp)
    await app.pipelines.ensure_indexes()


async def _close_inspector(app: ServiceApp) -> None:
    assert isinstance(app, StreamApp)
    await asyncio.to_thread(app.inspector.close)
