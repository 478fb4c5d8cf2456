"""``POST /hooks/{token}``: a webhook trigger starts a run; the token in the URL is the credential.

Public (no bearer token): the unguessable token names one webhook trigger of
one flow (:mod:`flow_automation.triggers.webhooks`). The JSON body, an object,
is the run's params; an empty body means no params. An ``Idempotency-Key``
header makes the call safe to repeat: the same key on the same flow returns
the first run (200, ``created: false``) instead of starting another.

Answers: 201 ``{run_id}``; 404 for an unknown token and for a disabled
trigger alike (a caller learns nothing about tokens); 400 for a body that is
not a JSON object; 422 for params the flow refuses. The token never reaches
the access log or the audit trail: the path is logged as ``/hooks/<token>``.
Nothing is rate-limited yet; a per-token limit (429) belongs here when webhooks
face the internet.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from common.errors import DataflowError, InvalidArgument, NotFound
from common.web import ApiHandler, endpoint
from flow_automation.triggers.messages import MAX_KEY_LENGTH, webhook_dedupe_key

if TYPE_CHECKING:
    from flow_automation.app import FlowAutomationApp

REDACTED_PATH = "/hooks/<token>"


class UnknownWebhook(NotFound):
    def __init__(self) -> None:
        DataflowError.__init__(self, "No webhook trigger answers at this URL; check the URL in the flow's triggers")
        self.kind = "webhook"
        self.object_id = "<token>"


class HookHandler(ApiHandler):
    application: FlowAutomationApp

    async def prepare(self) -> None:
        # Routing is done: from here on the token must not appear in any log line.
        self.request.path = REDACTED_PATH
        self.request.uri = REDACTED_PATH
        await super().prepare()

    @endpoint(
        public=True,
        summary="Start a run of the flow whose webhook trigger owns this token; the JSON body is its params",
        status=201,
        audit="flow.run.webhook",
        errors=(400, 404, 422),
    )
    async def post(self, token: str) -> dict[str, Any]:
        self.audit_object_id = "webhook"
        params = self._params()
        idempotency_key = self._idempotency_key()
        app = self.application
        found = await app.triggers.webhooks.lookup(token)
        if found is None:
            raise UnknownWebhook()
        flow_id, slot = found
        self.audit_object_id = flow_id
        try:
            definition, version = await app.flows.definition(flow_id)
        except NotFound:
            raise UnknownWebhook() from None
        webhooks = [(index, t) for index, t in enumerate(definition.triggers) if t.type == "webhook"]
        if slot >= len(webhooks) or not webhooks[slot][1].enabled:
            raise UnknownWebhook()
        run, created = await app.engine.create_run(
            flow_id,
            params=params,
            version=version,
            trigger={"type": "webhook", "index": webhooks[slot][0]},
            dedupe_key=webhook_dedupe_key(flow_id, idempotency_key) if idempotency_key else None,
        )
        if not created:
            self.send_json({"run_id": run["_id"], "created": False}, status=200)
            return None
        return {"run_id": run["_id"], "created": True}

    def _params(self) -> dict[str, Any]:
        if not self.request.body.strip():
            return {}
        try:
            data = json.loads(self.request.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidArgument(f"The request body is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidArgument("The request body must be a JSON object: its fields are the run's params")
        return data

    def _idempotency_key(self) -> str | None:
        key = self.request.headers.get("Idempotency-Key")
        if key is None:
            return None
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidArgument(f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable characters")
        return key
