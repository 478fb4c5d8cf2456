"""``GET /api/v1/whoami``: the caller as the service sees it (any valid token).

For a person signed in through the web UI, ``subject`` is the username and
``role`` their role; for a client (a service, a script) ``role`` is null.
The UI reads ``scopes`` to show only what the person may do.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from common.web.handlers import ApiHandler
from common.web.routes import endpoint


class WhoAmI(BaseModel):
    service: str
    subject: str
    client_id: str | None
    role: str | None = Field(None, description="the user's role (viewer, editor, admin); null for a client")
    scopes: list[str]


class WhoAmIHandler(ApiHandler):
    @endpoint(summary="Who the bearer token says the caller is", response=WhoAmI)
    async def get(self) -> WhoAmI:
        assert self.principal is not None
        role = self.principal.claims.get("role")
        return WhoAmI(
            service=self.application.service,
            subject=self.principal.subject,
            client_id=self.principal.client_id,
            role=role if isinstance(role, str) else None,
            scopes=sorted(self.principal.scopes),
        )
