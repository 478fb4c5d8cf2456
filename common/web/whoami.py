"""``GET /api/v1/whoami``: the caller as the service sees it (any valid token)."""

from __future__ import annotations

from pydantic import BaseModel

from common.web.handlers import ApiHandler
from common.web.routes import endpoint


class WhoAmI(BaseModel):
    service: str
    subject: str
    client_id: str | None
    scopes: list[str]


class WhoAmIHandler(ApiHandler):
    @endpoint(summary="Who the bearer token says the caller is", response=WhoAmI)
    async def get(self) -> WhoAmI:
        assert self.principal is not None
        return WhoAmI(
            service=self.application.service,
            subject=self.principal.subject,
            client_id=self.principal.client_id,
            scopes=sorted(self.principal.scopes),
        )
