"""PyPI packages for sandboxed programs: an admin allowlist, pinned installs, restore on restart.

An admin first allows a package (``PUT /api/v1/packages/allowlist/{name}``)
with the module names it may be imported as; that is the import policy.
Installing it (``POST /api/v1/packages``) needs an exact version and runs
``pip install --target`` into a staging directory beside the managed package
directory (under the state dir), used only by the sandbox workers. Only a
successful install replaces the previous version, by renaming; a failed one
leaves everything as it was and answers with pip's reason. Installs are
recorded in MongoDB and reinstalled at startup where the directory is
missing (a new pod, a fresh disk). After every change the worker pool is
restarted with the new ``sys.path`` and import policy.

The sandbox policy still applies to these packages: no underscore names, no
submodule attribute walks, only the listed import names.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import shutil
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from coderunner.constants import ALLOWLIST_COLLECTION, PACKAGES_COLLECTION, PACKAGES_DIR
from coderunner.sandbox.pool import WorkerPool
from common.errors import Conflict, InvalidDefinition, NotFound
from common.sandbox.modules import DEFAULT_ALLOWED_MODULES
from common.settings import Settings

log = logging.getLogger(__name__)

_VERSION = re.compile(r"^[0-9]+(\.[0-9]+)*([abc]|rc)?[0-9]*(\.post[0-9]+)?(\.dev[0-9]+)?$")
_IMPORT_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def normalize(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


class PackageInstallFailed(InvalidDefinition):
    """pip could not install the requested package; nothing was changed."""


class PackageManager:
    def __init__(self, db: AsyncDatabase, settings: Settings, pool: WorkerPool) -> None:
        self.records = db[PACKAGES_COLLECTION]
        self.allowlist = db[ALLOWLIST_COLLECTION]
        self.settings = settings
        self.pool = pool
        self.root = Path(settings.state_dir).resolve() / PACKAGES_DIR
        self._lock = asyncio.Lock()

    # -- allowlist (the import policy) ---------------------------------------------------

    async def allowlist_entries(self) -> list[dict[str, Any]]:
        entries = await self.allowlist.find({}, {"_id": 0}).sort("name", 1).to_list()
        return entries

    async def allow(self, name: str, import_names: list[str], description: str = "") -> dict[str, Any]:
        bad = [module for module in import_names if not _IMPORT_NAME.match(module)]
        if bad or not import_names:
            raise InvalidDefinition(
                "import_names must be one or more top-level module names",
                details=[{"field": "import_names", "message": f"invalid: {bad}" if bad else "empty"}],
            )
        clashes = sorted(set(import_names) & DEFAULT_ALLOWED_MODULES)
        if clashes:
            raise Conflict(f"{clashes} are built into the sandbox policy already")
        entry = {
            "name": normalize(name),
            "import_names": sorted(set(import_names)),
            "description": description,
            "updated_at": datetime.now(UTC),
        }
        await self.allowlist.replace_one({"name": entry["name"]}, entry, upsert=True)
        await self._apply()
        return entry

    async def disallow(self, name: str) -> None:
        result = await self.allowlist.delete_one({"name": normalize(name)})
        if result.deleted_count == 0:
            raise NotFound("allowlist entry", name)
        await self._apply()

    # -- installs ------------------------------------------------------------------------

    async def install(self, name: str, version: str) -> dict[str, Any]:
        project = normalize(name)
        if not _VERSION.match(version):
            raise InvalidDefinition(
                f"version {version!r} is not an exact version; pin it, for example 1.2.3",
                details=[{"field": "version", "message": "must be an exact version"}],
            )
        entry = await self.allowlist.find_one({"name": project})
        if entry is None:
            raise InvalidDefinition(
                f"{project!r} is not on the package allowlist; an admin adds it with "
                f"PUT /api/v1/packages/allowlist/{project}",
                details=[{"field": "name", "message": "not allowlisted"}],
            )
        async with self._lock:
            await self._pip_install(project, version, entry["import_names"])
            previous = await self.records.find_one({"name": project})
            record = {"name": project, "version": version, "installed_at": datetime.now(UTC)}
            await self.records.replace_one({"name": project}, record, upsert=True)
            if previous and previous["version"] != version:
                await asyncio.to_thread(shutil.rmtree, self.path_of(previous), True)
            await self._apply()
        return record

    async def uninstall(self, name: str) -> None:
        project = normalize(name)
        async with self._lock:
            record = await self.records.find_one_and_delete({"name": project})
            if record is None:
                raise NotFound("installed package", name)
            await self._apply()
            await asyncio.to_thread(shutil.rmtree, self.path_of(record), True)

    async def installed(self) -> list[dict[str, Any]]:
        return await self.records.find({}, {"_id": 0}).sort("name", 1).to_list()

    async def restore(self) -> None:
        """Reinstall recorded packages whose directory is missing, then apply the policy."""
        for record in await self.installed():
            if _is_dir(self.path_of(record)):
                continue
            entry = await self.allowlist.find_one({"name": record["name"]})
            try:
                await self._pip_install(record["name"], record["version"], entry["import_names"] if entry else [])
                log.info("restored sandbox package %s==%s", record["name"], record["version"])
            except PackageInstallFailed as exc:
                log.warning("could not restore sandbox package %s: %s", record["name"], exc.message)
        await self._apply()

    def path_of(self, record: dict[str, Any]) -> Path:
        """Where this replica keeps an installed package (records hold no paths: disks differ)."""
        return self.root / f"{record['name']}-{record['version']}"

    async def _pip_install(self, project: str, version: str, import_names: list[str]) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.path_of({"name": project, "version": version})
        staging = self.root / f".staging-{uuid.uuid4().hex[:8]}"
        command = [
            sys.executable, "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
            "--no-compile", "--target", str(staging), f"{project}=={version}",
        ]  # fmt: skip
        if self.settings.coderunner_pip_index_url:
            command += ["--index-url", self.settings.coderunner_pip_index_url]
        if self.settings.coderunner_pip_find_links:
            command += ["--find-links", self.settings.coderunner_pip_find_links]
        if self.settings.coderunner_pip_no_index:
            command.append("--no-index")
        process = await asyncio.create_subprocess_exec(
            *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
        )
        try:
            output, _ = await asyncio.wait_for(process.communicate(), self.settings.coderunner_pip_timeout_s)
        except TimeoutError:
            process.kill()
            shutil.rmtree(staging, ignore_errors=True)
            raise PackageInstallFailed(
                f"pip did not finish installing {project}=={version} within {self.settings.coderunner_pip_timeout_s:g}s"
            ) from None
        if process.returncode != 0:
            shutil.rmtree(staging, ignore_errors=True)
            tail = "\n".join(output.decode(errors="replace").strip().splitlines()[-8:])
            raise PackageInstallFailed(f"pip could not install {project}=={version}", details={"pip_output": tail})
        missing = [module for module in import_names if not _provides(staging, module)]
        if missing:
            shutil.rmtree(staging, ignore_errors=True)
            raise PackageInstallFailed(
                f"{project}=={version} does not provide the allowlisted module(s) {missing}",
                details={"import_names": import_names},
            )
        if target.exists():
            shutil.rmtree(target)
        staging.rename(target)
        return target

    async def _apply(self) -> None:
        """Restart the workers with the installed, allowlisted packages importable."""
        allowed = {entry["name"]: entry["import_names"] for entry in await self.allowlist_entries()}
        records = [record for record in await self.installed() if record["name"] in allowed]
        modules = tuple(sorted({module for record in records for module in allowed[record["name"]]}))
        site_dirs = tuple(str(self.path_of(record)) for record in records if _is_dir(self.path_of(record)))
        if (modules, site_dirs) != (self.pool.allowed_modules, self.pool.site_dirs):
            await self.pool.restart(allowed_modules=modules, site_dirs=site_dirs)


def _is_dir(path: Path) -> bool:
    return os.path.isdir(path)


def _provides(directory: Path, module: str) -> bool:
    return (
        (directory / module / "__init__.py").is_file()
        or (directory / f"{module}.py").is_file()
        or any(directory.glob(f"{module}.*.so"))
    )
