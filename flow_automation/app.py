"""The flow_automation application: routes and wiring."""

from __future__ import annotations

from common.settings import Settings
from common.web import ServiceApp, route
from common.web.whoami import WhoAmIHandler
from flow_automation import __version__
from flow_automation.api.accounts import ClientHandler, ClientsHandler, UsersHandler
from flow_automation.api.audit import AuditHandler
from flow_automation.api.keys import KeyRotationHandler, KeysHandler
from flow_automation.api.oauth import DiscoveryHandler, JwksHandler, TokenHandler
from flow_automation.constants import SERVICE
from flow_automation.identity.provider import IdentityProvider


class FlowAutomationApp(ServiceApp):
    identity: IdentityProvider


def build_app(settings: Settings) -> FlowAutomationApp:
    routes = [
        route("/oauth2/token", TokenHandler),
        route("/oauth2/jwks", JwksHandler, include_in_schema=False),
        route("/.well-known/openid-configuration", DiscoveryHandler, include_in_schema=False),
        route("/.well-known/oauth-authorization-server", DiscoveryHandler, include_in_schema=False),
        route("/api/v1/whoami", WhoAmIHandler),
        route("/api/v1/audit", AuditHandler),
        route("/api/v1/clients", ClientsHandler),
        route("/api/v1/clients/{client_id}", ClientHandler),
        route("/api/v1/users", UsersHandler),
        route("/api/v1/keys", KeysHandler),
        route("/api/v1/keys/rotate", KeyRotationHandler),
    ]
    app = FlowAutomationApp(
        service=SERVICE,
        title="Dataflow orchestrator",
        version=__version__,
        description="Flows, runs, executors, triggers, connections and the OAuth2 authorization server.",
        config=settings,
        routes=routes,
        startup=[_start_identity],
        shutdown=[_stop_identity],
    )
    app.identity = IdentityProvider(app.db, settings)
    # flow_automation validates tokens against its own key store, not over HTTP to itself.
    app.token_validator.key_source = app.identity.keys
    return app


async def _start_identity(app: ServiceApp) -> None:
    assert isinstance(app, FlowAutomationApp)
    await app.identity.start()


async def _stop_identity(app: ServiceApp) -> None:
    assert isinstance(app, FlowAutomationApp)
    await app.identity.stop()
