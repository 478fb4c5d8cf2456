"""Flow triggers, kept in sync with saved flows: cron (ecron jobs), webhooks, Kafka topics, ``dataflow.triggers``.

Every save that creates a version calls :meth:`TriggerManager.sync`, and a
delete calls :meth:`TriggerManager.remove`. ``sync`` writes the flow's
``trigger_state`` (shown as ``triggers`` by ``GET /api/v1/flows/{id}``), one
entry per trigger, in the definition's order::

    {"type": "cron", "index": 0, "cron": "0 6 * * *", "timezone": "UTC", "enabled": true,
     "job_name": "flow:<flow>:0", "status": "active" | "pending" | "error" | "disabled",
     "ecron_job_id": "...", "message": null}
    {"type": "webhook", "index": 1, "url": "<issuer>/hooks/<token>", "status": "active" | "disabled"}
    {"type": "kafka", "index": 2, "topic": "orders", "group": "dataflow.trigger.<flow>", "dedupe_key": "id",
     "status": "starting" | "active" | "error" | "disabled", "message": null, "skipped": 0, "last_skipped": "..."}

Cron (:mod:`.cron`): each enabled cron trigger is an ecron job named
``flow:<flow>:<index>`` whose action POSTs to
``<DATAFLOW_FLOW_AUTOMATION_URL>/api/v1/flows/<flow>/runs`` with the trigger's
params (plus ``"scheduled_time": "{{scheduled_time}}"`` when the flow declares
that param). Until ecron takes the job it shows ``pending`` (ecron down or
without its job API) or ``error`` (ecron refused it, with its message), and a
reconciler in every replica retries every 30 s; a save never fails because of
ecron. A removed or disabled cron trigger's job is deleted.

Webhooks (:mod:`.webhooks`, ``POST /hooks/{token}`` in
:mod:`flow_automation.api.hooks`): a 256-bit token per webhook trigger, kept
across saves while the flow keeps that trigger, dropped with the trigger or
the flow. The URL is shown in the trigger state to whoever may read the flow:
it is a capability to start runs of that one flow, like the incoming-webhook
URLs of chat and CI tools. To revoke it, save the flow without the webhook
trigger, then add it again (a new token). The lookup table stores only the
token's SHA-256.

Kafka (:mod:`.kafka`): one run per message, at least once, deduplicated by
``kafka:<flow>:<key>`` where the key is the value of the trigger's
``dedupe_key`` field in the message, or ``<topic>:<partition>:<offset>``. A
JSON object message is the run's params (over the trigger's params); any
other JSON value becomes ``{"message": value}``. ``dataflow.triggers`` takes
``{"flow_id", "params"?, "version"?, "dedupe_key"?}`` (default dedupe key
``triggers:<partition>:<offset>``). See :mod:`.kafka` for offsets, missing
topics and skipped messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from common.errors import NotFound
from flow_automation.flows.model import FlowDefinition
from flow_automation.triggers.cron import DISABLED, PENDING, CronJobs
from flow_automation.triggers.kafka import STARTING, KafkaTriggers, default_group
from flow_automation.triggers.messages import ecron_job, ecron_job_name
from flow_automation.triggers.webhooks import WebhookTokens

if TYPE_CHECKING:
    from flow_automation.app import FlowAutomationApp

__all__ = ["TriggerManager"]

log = logging.getLogger(__name__)


class TriggerManager:
    def __init__(self, app: FlowAutomationApp) -> None:
        self.app = app
        self.webhooks = WebhookTokens(app.db, app.config.oauth_issuer)
        self.cron = CronJobs(app.db, app.config)
        self.kafka = KafkaTriggers(app)
        self._reconciler: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Indexes, this replica's trigger consumers and the cron reconciler (idempotent: hooks are retried)."""
        await self.webhooks.ensure_indexes()
        await self.cron.ensure_indexes()
        await self.kafka.start()
        if self._reconciler is None:
            self._reconciler = asyncio.get_running_loop().create_task(self.cron.reconcile_forever())

    async def stop(self) -> None:
        if self._reconciler is not None:
            self._reconciler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconciler
            self._reconciler = None
        await self.kafka.stop()

    async def sync(self, flow_id: str) -> None:
        """Bring the flow's triggers in line with its latest version."""
        try:
            flow, version = await self.app.flows.get(flow_id)
        except NotFound:
            return
        definition = FlowDefinition.model_validate(version["definition"])
        state = await self._state(flow_id, definition, flow.get("trigger_state") or [])
        await self.app.flows.set_fields(flow_id, {"trigger_state": state})
        await self.cron.push_flow(flow_id)

    async def remove(self, flow_id: str) -> None:
        """Drop every trigger of a flow being deleted (its consumers stop once the flow is gone)."""
        await self.webhooks.remove(flow_id)
        await self.cron.remove(flow_id)

    async def _state(
        self, flow_id: str, definition: FlowDefinition, previous: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        triggers = definition.triggers
        urls = await self.webhooks.sync(
            flow_id,
            sum(1 for t in triggers if t.type == "webhook"),
            [entry.get("url", "") for entry in previous if entry.get("type") == "webhook"],
        )
        base_url = self.app.config.flow_automation_url
        jobs = await self.cron.plan(
            flow_id,
            {
                ecron_job_name(flow_id, index): (index, ecron_job(definition, flow_id, index, trigger, base_url))
                for index, trigger in enumerate(triggers)
                if trigger.type == "cron" and trigger.enabled
            },
        )
        state: list[dict[str, Any]] = []
        for index, trigger in enumerate(triggers):
            before = previous[index] if index < len(previous) else {}
            if trigger.type == "cron":
                name = ecron_job_name(flow_id, index)
                job = jobs.get(name, {})
                state.append(
                    {
                        "type": "cron",
                        "index": index,
                        "cron": trigger.cron,
                        "timezone": trigger.timezone,
                        "enabled": trigger.enabled,
                        "job_name": name,
                        "status": job.get("status", PENDING) if trigger.enabled else DISABLED,
                        "ecron_job_id": job.get("ecron_job_id"),
                        "message": job.get("message"),
                    }
                )
            elif trigger.type == "webhook":
                url = urls[sum(1 for t in triggers[:index] if t.type == "webhook")]
                state.append(
                    {"type": "webhook", "index": index, "url": url, "status": "active" if trigger.enabled else DISABLED}
                )
            else:
                state.append(_kafka_entry(flow_id, index, trigger, before))
        return state


def _kafka_entry(flow_id: str, index: int, trigger: Any, before: dict[str, Any]) -> dict[str, Any]:
    group = trigger.group or default_group(flow_id)
    entry = {
        "type": "kafka",
        "index": index,
        "topic": trigger.topic,
        "group": group,
        "dedupe_key": trigger.dedupe_key,
        "status": STARTING if trigger.enabled else DISABLED,
        "message": None,
        "skipped": 0,
    }
    same = (before.get("type"), before.get("topic"), before.get("group"), before.get("dedupe_key")) == (
        "kafka",
        trigger.topic,
        group,
        trigger.dedupe_key,
    )
    if same and trigger.enabled and before.get("status") != DISABLED:
        # The consumer carries on unchanged: keep what it reported.
        for field in ("status", "message", "skipped", "last_skipped"):
            if field in before:
                entry[field] = before[field]
    return entry
