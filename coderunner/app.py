"""The coderunner application: routes and wiring."""

from __future__ import annotations

from coderunner import __version__
from coderunner.api.execute import ExecuteHandler
from coderunner.api.packages import AllowlistEntryHandler, AllowlistHandler, PackageHandler, PackagesHandler
from coderunner.constants import SERVICE
from coderunner.execution import Executor
from coderunner.packages import PackageManager
from coderunner.sandbox.pool import WorkerPool, default_pool_size
from common.settings import Settings
from common.web import ServiceApp, route
from common.web.whoami import WhoAmIHandler


class CoderunnerApp(ServiceApp):
    pool: WorkerPool
    executor: Executor
    packages: PackageManager


def build_app(settings: Settings) -> CoderunnerApp:
    app = CoderunnerApp(
        service=SERVICE,
        title="Dataflow code runner",
        version=__version__,
        description="Sandboxed Python execution, document tools (docx, xlsx, pdf), OCR and sandbox packages.",
        config=settings,
        routes=[
            route("/api/v1/whoami", WhoAmIHandler),
            route("/api/v1/packages", PackagesHandler),
            route("/api/v1/packages/allowlist", AllowlistHandler),
            route("/api/v1/packages/allowlist/{name}", AllowlistEntryHandler),
            route("/api/v1/packages/{name}", PackageHandler),
            route("/api/v1/execute", ExecuteHandler),
        ],
        startup=[_start_pool],
        shutdown=[_stop_pool],
    )
    app.pool = WorkerPool(
        size=default_pool_size(settings.coderunner_workers),
        max_runs=settings.coderunner_max_runs_per_worker,
        max_rss_mb=settings.coderunner_worker_max_rss_mb,
        max_output=settings.coderunner_max_output_bytes,
        queue_timeout_s=settings.coderunner_queue_timeout_s,
    )
    app.executor = Executor(app.pool, settings)
    app.packages = PackageManager(app.db, settings, app.pool)
    return app


async def _start_pool(app: ServiceApp) -> None:
    assert isinstance(app, CoderunnerApp)
    await app.packages.restore()  # sets the pool's import policy before its workers start
    if not app.pool.started:
        await app.pool.start()


async def _stop_pool(app: ServiceApp) -> None:
    assert isinstance(app, CoderunnerApp)
    await app.pool.close()
