"""``POST /api/v1/schedules/preview``: the next fire times of a schedule, as a user types it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from common.errors import InvalidDefinition
from common.scopes import CRON_READ
from common.web import ApiHandler, endpoint
from ecron.jobs import anchored_schedules
from ecron.models import PreviewRequest, PreviewResponse
from ecron.schedules import display_zone, fire_times, normalize


class PreviewHandler(ApiHandler):
    @endpoint(
        scopes=[CRON_READ],
        summary="The next fire times of one or more schedules",
        description="Times are ISO 8601 with the offset of the first schedule's timezone; jitter is not applied.",
        body=PreviewRequest,
        response=PreviewResponse,
        audited=False,
    )
    async def post(self, *, body: PreviewRequest) -> dict[str, Any]:
        now = datetime.now(UTC)
        after = body.after or now
        if after.tzinfo is None:
            raise InvalidDefinition(
                "'after' needs a UTC offset, for example 2027-01-01T00:00:00Z",
                details=[{"field": "after", "message": "naive datetime", "type": "value_error"}],
            )
        schedules = anchored_schedules(body.schedules or [body.schedule], now)  # type: ignore[list-item]
        zone = display_zone(schedules)
        return {
            "fire_times": [normalize(moment, zone).isoformat() for moment in fire_times(schedules, after, body.count)]
        }
