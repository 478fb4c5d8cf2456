"""``/api/v1/packages``: PyPI packages for the sandbox, and the allowlist that governs them (admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.scopes import ADMIN
from common.web import ApiHandler, endpoint


class InstalledPackage(BaseModel):
    name: str
    version: str
    installed_at: datetime


class InstalledPackages(BaseModel):
    items: list[InstalledPackage]


class PackageInstall(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    version: str = Field(min_length=1, max_length=50, description="an exact version, for example 0.9.0")


class AllowlistEntry(BaseModel):
    name: str
    import_names: list[str]
    description: str = ""
    updated_at: datetime


class AllowlistUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    import_names: list[str] = Field(min_length=1, description="the top-level modules programs may import")
    description: str = Field("", max_length=500)


class Allowlist(BaseModel):
    items: list[AllowlistEntry]


class PackagesHandler(ApiHandler):
    @endpoint(scopes=[ADMIN], summary="List installed sandbox packages", response=InstalledPackages)
    async def get(self) -> dict[str, Any]:
        return {"items": await self.application.packages.installed()}

    @endpoint(
        scopes=[ADMIN],
        summary="Install an allowlisted package at an exact version for the sandbox",
        body=PackageInstall,
        response=InstalledPackage,
        status=201,
        audit="package.install",
    )
    async def post(self, *, body: PackageInstall) -> dict[str, Any]:
        self.audit_object_id = f"{body.name}=={body.version}"
        return await self.application.packages.install(body.name, body.version)


class PackageHandler(ApiHandler):
    @endpoint(scopes=[ADMIN], summary="Uninstall a sandbox package", status=204, audit="package.uninstall")
    async def delete(self, name: str) -> None:
        await self.application.packages.uninstall(name)
        self.set_status(204)
        self.finish()


class AllowlistHandler(ApiHandler):
    @endpoint(scopes=[ADMIN], summary="The package allowlist (the sandbox's extra import policy)", response=Allowlist)
    async def get(self) -> dict[str, Any]:
        return {"items": await self.application.packages.allowlist_entries()}


class AllowlistEntryHandler(ApiHandler):
    @endpoint(
        scopes=[ADMIN],
        summary="Allow a package and the module names it may be imported as",
        body=AllowlistUpdate,
        response=AllowlistEntry,
        audit="package_allowlist.update",
        errors=(409,),
    )
    async def put(self, name: str, *, body: AllowlistUpdate) -> dict[str, Any]:
        return await self.application.packages.allow(name, body.import_names, body.description)

    @endpoint(
        scopes=[ADMIN], summary="Remove a package from the allowlist", status=204, audit="package_allowlist.delete"
    )
    async def delete(self, name: str) -> None:
        await self.application.packages.disallow(name)
        self.set_status(204)
        self.finish()
