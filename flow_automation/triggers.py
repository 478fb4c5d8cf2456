"""Flow triggers kept in sync with saved flows: cron (ecron jobs), webhooks, Kafka topics."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flow_automation.app import FlowAutomationApp


class TriggerManager:
    def __init__(self, app: FlowAutomationApp) -> None:
        self.app = app

    async def sync(self, flow_id: str) -> None:
        """Bring the flow's triggers in line with its latest version."""

    async def remove(self, flow_id: str) -> None:
        """Drop every trigger of a flow being deleted."""
