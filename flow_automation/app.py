"""The flow_automation application: routes and wiring."""

from __future__ import annotations

import asyncio

from common.settings import Settings
from common.web import ServiceApp, route
from common.web.whoami import WhoAmIHandler
from flow_automation import __version__
from flow_automation.api.accounts import ClientHandler, ClientsHandler, UserHandler, UsersHandler
from flow_automation.api.audit import AuditHandler
from flow_automation.api.connections import ConnectionHandler, ConnectionsHandler, ConnectionTestHandler
from flow_automation.api.flows import (
    FlowBackfillHandler,
    FlowDiffHandler,
    FlowExportHandler,
    FlowHandler,
    FlowImportHandler,
    FlowRunsHandler,
    FlowsHandler,
    FlowValidateHandler,
    FlowVersionHandler,
    FlowVersionsHandler,
)
from flow_automation.api.hooks import HookHandler
from flow_automation.api.keys import KeyRotationHandler, KeysHandler
from flow_automation.api.node_types import NodeTypeHandler, NodeTypesHandler
from flow_automation.api.oauth import AuthorizeHandler, DiscoveryHandler, JwksHandler, RevokeHandler, TokenHandler
from flow_automation.api.runs import (
    RunCancelHandler,
    RunEventsHandler,
    RunHandler,
    RunRetryHandler,
    RunsHandler,
    TaskLogsHandler,
)
from flow_automation.constants import SERVICE
from flow_automation.engine.events import EventPublisher
from flow_automation.engine.runs import RunEngine
from flow_automation.flows.store import FlowStore
from flow_automation.identity.provider import IdentityProvider
from flow_automation.triggers import TriggerManager


class FlowAutomationApp(ServiceApp):
    identity: IdentityProvider
    flows: FlowStore
    engine: RunEngine
    events: EventPublisher
    triggers: TriggerManager


def build_app(settings: Settings) -> FlowAutomationApp:
    routes = [
        route("/oauth2/authorize", AuthorizeHandler),
        route("/oauth2/token", TokenHandler),
        route("/oauth2/revoke", RevokeHandler),
        route("/oauth2/jwks", JwksHandler, include_in_schema=False),
        route("/.well-known/openid-configuration", DiscoveryHandler, include_in_schema=False),
        route("/.well-known/oauth-authorization-server", DiscoveryHandler, include_in_schema=False),
        route("/api/v1/whoami", WhoAmIHandler),
        route("/api/v1/me", WhoAmIHandler),
        route("/api/v1/audit", AuditHandler),
        route("/api/v1/clients", ClientsHandler),
        route("/api/v1/clients/{client_id}", ClientHandler),
        route("/api/v1/users", UsersHandler),
        route("/api/v1/users/{username}", UserHandler),
        route("/api/v1/keys", KeysHandler),
        route("/api/v1/keys/rotate", KeyRotationHandler),
        route("/api/v1/connections", ConnectionsHandler),
        route("/api/v1/connections/{connection_id}", ConnectionHandler),
        route("/api/v1/connections/{connection_id}/test", ConnectionTestHandler),
        route("/api/v1/node-types", NodeTypesHandler),
        route("/api/v1/node-types/{type_id}", NodeTypeHandler),
        route("/api/v1/flows", FlowsHandler),
        route("/api/v1/flows/validate", FlowValidateHandler),
        route("/api/v1/flows/import", FlowImportHandler),
        route("/api/v1/flows/{flow_id}", FlowHandler),
        route("/api/v1/flows/{flow_id}/versions", FlowVersionsHandler),
        route("/api/v1/flows/{flow_id}/versions/{version}", FlowVersionHandler),
        route("/api/v1/flows/{flow_id}/diff", FlowDiffHandler),
        route("/api/v1/flows/{flow_id}/export", FlowExportHandler),
        route("/api/v1/flows/{flow_id}/runs", FlowRunsHandler),
        route("/api/v1/flows/{flow_id}/backfill", FlowBackfillHandler),
        route("/api/v1/runs", RunsHandler),
        route("/api/v1/runs/{run_id}", RunHandler),
        route("/api/v1/runs/{run_id}/cancel", RunCancelHandler),
        route("/api/v1/runs/{run_id}/retry", RunRetryHandler),
        route("/api/v1/runs/{run_id}/events", RunEventsHandler),
        route("/api/v1/runs/{run_id}/tasks/{node_id}/logs", TaskLogsHandler),
        route("/hooks/{token}", HookHandler),
    ]
    app = FlowAutomationApp(
        service=SERVICE,
        title="Dataflow orchestrator",
        version=__version__,
        description="Flows, runs, executors, triggers, connections and the OAuth2 authorization server.",
        config=settings,
        routes=routes,
        startup=[_start_identity, _start_engine, _start_triggers],
        shutdown=[_stop_triggers, _stop_identity, _stop_engine],
    )
    app.identity = IdentityProvider(app.db, settings)
    app.flows = FlowStore(app.db)
    app.events = EventPublisher(settings)
    app.engine = RunEngine(app.db, settings, app.events, app.flows)
    app.triggers = TriggerManager(app)
    # flow_automation validates tokens against its own key store, not over HTTP to itself.
    app.token_validator.key_source = app.identity.keys
    return app


async def _start_identity(app: ServiceApp) -> None:
    assert isinstance(app, FlowAutomationApp)
    await app.identity.start()


async def _stop_identity(app: ServiceApp) -> None:
    assert isinstance(app, FlowAutomationApp)
    await app.identity.stop()


async def _start_engine(app: ServiceApp) -> None:
    assert isinstance(app, FlowAutomationApp)
    await asyncio.to_thread(app.events.ensure_topics)
    await app.flows.ensure_indexes()
    await app.engine.ensure_indexes()


async def _stop_engine(app: ServiceApp) -> None:
    assert isinstance(app, FlowAutomationApp)
    await asyncio.to_thread(app.events.close)


async def _start_triggers(app: ServiceApp) -> None:
    assert isinstance(app, FlowAutomationApp)
    await app.triggers.start()


async def _stop_triggers(app: ServiceApp) -> None:
    assert isinstance(app, FlowAutomationApp)
    await app.triggers.stop()
