"""``/api/v1/packages``: the PyPI packages installed for the sandbox workers (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from coderunner.constants import PACKAGES_COLLECTION
from common.pagination import Page, PageQuery, list_page
from common.scopes import ADMIN
from common.web import ApiHandler, endpoint


class InstalledPackage(BaseModel):
    name: str
    version: str
    installed_at: datetime


class PackagesHandler(ApiHandler):
    @endpoint(
        scopes=[ADMIN],
        summary="List installed sandbox packages",
        query=PageQuery,
        response=Page[InstalledPackage],
    )
    async def get(self, *, query: PageQuery) -> dict[str, Any]:
        return await list_page(self.application.db[PACKAGES_COLLECTION], {}, query)
