"""The coderunner application: routes and wiring."""

from __future__ import annotations

import json
from typing import Any

from coderunner import __version__
from coderunner.api.documents import ExtractHandler, OcrHandler, RenderHandler
from coderunner.api.execute import ExecuteHandler
from coderunner.api.packages import AllowlistEntryHandler, AllowlistHandler, PackageHandler, PackagesHandler
from coderunner.constants import SERVICE
from coderunner.document_jobs import document_jobs
from coderunner.documents import ocr_image
from coderunner.documents.limits import OCR_TIMEOUT_S
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
            route("/api/v1/documents/extract", ExtractHandler),
            route("/api/v1/documents/ocr", OcrHandler),
            route("/api/v1/documents/render", RenderHandler),
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
    app.pool.host_calls["ocr"] = ocr_host_call
    return app


async def ocr_host_call(args: dict[str, Any], content: bytes) -> tuple[dict[str, Any], bytes]:
    """OCR for ``dataflow_docs.ocr`` in sandboxed code: the worker may not start tesseract, so we do."""
    result = await document_jobs().run(
        ocr_image,
        content,
        lang=str(args.get("lang") or "eng"),
        filename="sandbox-upload",
        label="the image passed to ocr()",
        timeout_s=OCR_TIMEOUT_S,
    )
    return {}, json.dumps(result).encode()


async def _start_pool(app: ServiceApp) -> None:
    assert isinstance(app, CoderunnerApp)
    await app.packages.restore()  # sets the pool's import policy before its workers start
    if not app.pool.started:
        await app.pool.start()


async def _stop_pool(app: ServiceApp) -> None:
    assert isinstance(app, CoderunnerApp)
    await app.pool.close()
