"""Process entry point shared by every service's ``__main__``.

``python -m <service> [--port N] [--bind ADDRESS]`` configures logging,
builds the application, listens, runs the startup hooks and serves until
SIGTERM or SIGINT; then it stops accepting connections, lets in-flight
requests finish for up to ``shutdown_grace_s`` and closes its clients.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Callable

from tornado.httpserver import HTTPServer

from common import gc_tuning
from common.logging import configure_logging
from common.settings import Settings, get_settings
from common.web.app import ServiceApp

log = logging.getLogger(__name__)


def parse_args(service: str, settings: Settings, argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {service}", description=f"Run the Dataflow {service} service.")
    parser.add_argument(
        "--port",
        type=int,
        default=settings.service_port(service),
        help=f"port to listen on (default {settings.service_port(service)}, or DATAFLOW_{service.upper()}_PORT)",
    )
    parser.add_argument(
        "--bind", default=settings.bind_address, help="address to listen on (default DATAFLOW_BIND_ADDRESS)"
    )
    return parser.parse_args(argv)


def run_service(service: str, build_app: Callable[[Settings], ServiceApp], argv: list[str] | None = None) -> None:
    settings = get_settings()
    args = parse_args(service, settings, argv)
    configure_logging(service, settings.log_level, settings.log_format)
    try:
        asyncio.run(serve(build_app, settings, args.bind, args.port))
    except OSError as exc:
        log.error("cannot listen on %s:%s: %s", args.bind, args.port, exc.strerror or exc)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


async def serve(build_app: Callable[[Settings], ServiceApp], settings: Settings, bind: str, port: int) -> None:
    app = build_app(settings)
    # The per-handler limit answers oversized bodies with a JSON 413; this cap only
    # stops a client that keeps sending far beyond it.
    server = HTTPServer(app, xheaders=True, max_body_size=max(2 * settings.max_body_bytes, 64 * 1024 * 1024))
    server.listen(port, address=bind)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await app.start()
    gc_tuning.settle()
    log.info("%s listening on http://%s:%d", app.service, bind, port, extra={"port": port})
    await stop.wait()
    log.info("%s stopping", app.service)
    server.stop()
    try:
        await asyncio.wait_for(server.close_all_connections(), settings.shutdown_grace_s)
    except TimeoutError:
        log.warning("connections still open after %.0fs; closing anyway", settings.shutdown_grace_s)
    await app.stop()
