"""The coderunner application: routes and wiring."""

from __future__ import annotations

from coderunner import __version__
from coderunner.api.packages import PackagesHandler
from coderunner.constants import SERVICE
from common.settings import Settings
from common.web import ServiceApp, route
from common.web.whoami import WhoAmIHandler


def build_app(settings: Settings) -> ServiceApp:
    return ServiceApp(
        service=SERVICE,
        title="Dataflow code runner",
        version=__version__,
        description="Sandboxed Python execution, document tools (docx, xlsx, pdf), OCR and sandbox packages.",
        config=settings,
        routes=[
            route("/api/v1/whoami", WhoAmIHandler),
            route("/api/v1/packages", PackagesHandler),
        ],
    )
