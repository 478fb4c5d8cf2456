"""The ecron application: routes, and the scheduler that runs inside every node's process."""

from __future__ import annotations

from common.settings import Settings
from common.web import ServiceApp, route
from common.web.whoami import WhoAmIHandler
from ecron import __version__
from ecron.actions.http import HttpRunner
from ecron.actions.kafka import KafkaRunner
from ecron.api.executions import ExecutionHandler
from ecron.api.jobs import (
    JobExecutionsHandler,
    JobHandler,
    JobsHandler,
    PauseHandler,
    ResumeHandler,
    RunHandler,
)
from ecron.api.nodes import NodesHandler
from ecron.api.schedules import PreviewHandler
from ecron.constants import SERVICE
from ecron.executions import ExecutionStore, OutcomeWriter
from ecron.jobs import JobStore
from ecron.nodes import NodeRegistry, new_node_id
from ecron.runner import ExecutionRunner
from ecron.scheduler import Scheduler
from ecron.service_tokens import ServiceTokens
from ecron.settings import EcronSettings, get_ecron_settings


class EcronApp(ServiceApp):
    jobs: JobStore
    executions: ExecutionStore
    nodes: NodeRegistry
    scheduler: Scheduler


def build_app(settings: Settings, ecron_settings: EcronSettings | None = None) -> EcronApp:
    ecron_settings = ecron_settings or get_ecron_settings()
    app = EcronApp(
        service=SERVICE,
        title="Dataflow distributed cron",
        version=__version__,
        description="Cron, interval and one-shot jobs fired exactly once across any number of nodes.",
        config=settings,
        routes=[
            route("/api/v1/whoami", WhoAmIHandler),
            route("/api/v1/jobs", JobsHandler),
            route("/api/v1/jobs/{job_id}", JobHandler),
            route("/api/v1/jobs/{job_id}/pause", PauseHandler),
            route("/api/v1/jobs/{job_id}/resume", ResumeHandler),
            route("/api/v1/jobs/{job_id}/run", RunHandler),
            route("/api/v1/jobs/{job_id}/executions", JobExecutionsHandler),
            route("/api/v1/executions/{execution_id}", ExecutionHandler),
            route("/api/v1/nodes", NodesHandler),
            route("/api/v1/schedules/preview", PreviewHandler),
        ],
        startup=[_start_scheduler],
        shutdown=[_stop_scheduler],
    )
    node_id = new_node_id()
    app.jobs = JobStore(app.db)
    app.executions = ExecutionStore(app.db)
    app.nodes = NodeRegistry(app.db, node_id, __version__, ecron_settings.lease_s)
    runner = ExecutionRunner(
        jobs=app.jobs,
        writer=OutcomeWriter(app.executions),
        http=HttpRunner(ServiceTokens(settings), ecron_settings.http_max_timeout_s),
        kafka=KafkaRunner(settings),
        node_id=node_id,
        max_in_flight=ecron_settings.max_in_flight,
        cache_size=ecron_settings.job_cache_size,
    )
    app.scheduler = Scheduler(
        db=app.db, jobs=app.jobs, executions=app.executions, nodes=app.nodes, runner=runner, settings=ecron_settings
    )
    return app


async def _start_scheduler(app: ServiceApp) -> None:
    assert isinstance(app, EcronApp)
    await app.scheduler.start()


async def _stop_scheduler(app: ServiceApp) -> None:
    assert isinstance(app, EcronApp)
    if app.started.is_set():
        await app.scheduler.stop()
