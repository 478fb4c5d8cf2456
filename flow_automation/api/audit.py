"""``GET /api/v1/audit``: the audit trail of every service, for administrators."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from common.pagination import Page, PageQuery
from common.scopes import ADMIN
from common.web import ApiHandler, endpoint


class AuditQuery(PageQuery):
    subject: str | None = Field(None, description="token subject (user or client id)")
    client_id: str | None = None
    action: str | None = Field(None, description="for example 'flow.create' or 'token.issue'")
    kind: str | None = Field(None, description="object kind, for example 'flow'")
    object_id: str | None = None
    service: str | None = None
    ok: bool | None = Field(None, description="true for successful calls, false for refused or failed ones")
    since: datetime | None = None
    until: datetime | None = None


class AuditActor(BaseModel):
    subject: str | None
    client_id: str | None


class AuditObject(BaseModel):
    kind: str | None
    id: str | None


class AuditOutcome(BaseModel):
    status: int
    ok: bool
    error: str | None


class AuditEntry(BaseModel):
    id: str
    at: datetime
    service: str
    action: str
    object: AuditObject
    actor: AuditActor
    remote_ip: str | None
    request_id: str
    outcome: AuditOutcome


class AuditHandler(ApiHandler):
    @endpoint(
        scopes=[ADMIN],
        summary="Browse the audit trail, newest first",
        query=AuditQuery,
        response=Page[AuditEntry],
    )
    async def get(self, *, query: AuditQuery) -> dict[str, Any]:
        return await self.application.audit.query(**query.model_dump())
