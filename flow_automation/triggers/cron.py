"""Cron triggers as ecron jobs, pushed through ecron's API and retried until ecron takes them.

``trigger_cron_jobs`` holds what ecron should have: one document per job
(``_id`` = the job name ``flow:<flow>:<index>``) with the job body (``None``
when the job must be deleted), a ``generation`` bumped on every change, the
ecron job id once known, and a short ``lease_until``. Whoever pushes a job
(the save that changed it, or the reconciler that every replica runs every
``RECONCILE_INTERVAL_S``) first takes the lease with one find-and-modify, so
two replicas never create the same job twice. A push that fails leaves the job
``pending`` (ecron unreachable, its job API missing: 404/405/5xx) or ``error``
(ecron refused the job: its message is kept); both are retried by the
reconciler. A save never fails because of ecron.

The flow's ``trigger_state`` entry of each cron trigger mirrors the job's
status, ecron id and message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from common.errors import DataflowError
from common.service_auth import service_auth
from common.settings import Settings

log = logging.getLogger(__name__)

CRON_JOBS = "trigger_cron_jobs"
RECONCILE_INTERVAL_S = 30.0
PUSH_LEASE_S = 60.0
ECRON_TIMEOUT_S = 5.0
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

ACTIVE, PENDING, ERROR, DISABLED = "active", "pending", "error", "disabled"


@dataclass(frozen=True)
class Outcome:
    """What ecron answered: the status to record, the job id it gave, and a message for people."""

    status: str
    job_id: str | None = None
    message: str | None = None
    gone: bool = False


def classify(response: httpx.Response) -> Outcome:
    """An ecron answer as an outcome: 2xx active; 404/405/5xx pending (not there yet); other 4xx error."""
    code = response.status_code
    if code < 300:
        job_id = None
        with contextlib.suppress(ValueError):
            body = response.json()
            if isinstance(body, dict):
                job_id = body.get("id") or body.get("job_id")
        return Outcome(ACTIVE, job_id=str(job_id) if job_id else None)
    if code == 404:
        return Outcome(PENDING, message="ecron has no such job or no job API yet (HTTP 404); retrying", gone=True)
    if code in (405, 501) or code >= 500:
        return Outcome(PENDING, message=f"ecron cannot take jobs right now (HTTP {code}); retrying")
    detail = ""
    with contextlib.suppress(ValueError, LookupError, TypeError):
        detail = str(response.json()["error"]["message"])[:300]
    return Outcome(ERROR, message=f"ecron refused the job (HTTP {code}){': ' + detail if detail else ''}")


class EcronClient:
    """The few calls of ecron's job API this service makes; every failure is an Outcome, never a raise."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._auth: httpx.Auth | None = None

    async def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response | Outcome:
        try:
            if self._auth is None:
                self._auth = service_auth(self.settings)
            async with httpx.AsyncClient(
                base_url=self.settings.ecron_url, auth=self._auth, timeout=ECRON_TIMEOUT_S
            ) as client:
                return await client.request(method, path, json=body)
        except httpx.HTTPError as exc:
            return Outcome(PENDING, message=f"ecron is unreachable ({type(exc).__name__}); retrying")
        except DataflowError as exc:  # no service credentials, or the token endpoint is down
            return Outcome(PENDING, message=f"no token to call ecron: {exc.message}; retrying")

    async def upsert(self, job_id: str | None, job: dict[str, Any]) -> Outcome:
        if job_id:
            answer = await self._call("PUT", f"/api/v1/jobs/{job_id}", job)
            if isinstance(answer, Outcome):
                return answer
            outcome = classify(answer)
            if not outcome.gone:
                return Outcome(outcome.status, job_id=outcome.job_id or job_id, message=outcome.message)
        answer = await self._call("POST", "/api/v1/jobs", job)
        return answer if isinstance(answer, Outcome) else classify(answer)

    async def delete(self, job_id: str) -> Outcome:
        answer = await self._call("DELETE", f"/api/v1/jobs/{job_id}")
        if isinstance(answer, Outcome):
            return answer
        outcome = classify(answer)
        if outcome.status == ACTIVE or outcome.gone:
            return Outcome(ACTIVE, gone=True)  # deleted now, or ecron no longer has it
        return outcome


class CronJobs:
    def __init__(self, db: AsyncDatabase, settings: Settings) -> None:
        self.jobs = db[CRON_JOBS]
        self.flows = db["flows"]
        self.ecron = EcronClient(settings)

    async def ensure_indexes(self) -> None:
        await self.jobs.create_index([("flow_id", ASCENDING)])
        await self.jobs.create_index([("status", ASCENDING)])

    async def plan(self, flow_id: str, wanted: dict[str, tuple[int, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        """Record the jobs ``flow_id`` should have (name -> (index, body)); the others are marked for deletion.

        Returns the stored documents of the wanted jobs, by name.
        """
        existing = {doc["_id"]: doc for doc in await self.jobs.find({"flow_id": flow_id}).to_list()}
        stored: dict[str, dict[str, Any]] = {}
        for name, (index, job) in wanted.items():
            before = existing.get(name)
            if before is not None and before.get("job") == job:
                if before.get("index") != index:
                    await self.jobs.update_one({"_id": name}, {"$set": {"index": index}})
                stored[name] = {**before, "index": index}
                continue
            stored[name] = await self.jobs.find_one_and_update(
                {"_id": name},
                {
                    "$set": {"flow_id": flow_id, "index": index, "job": job, "status": PENDING, "message": None},
                    "$inc": {"generation": 1},
                    "$setOnInsert": {"lease_until": EPOCH, "ecron_job_id": None},
                },
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        for name, doc in existing.items():
            if name not in wanted and doc.get("job") is not None:
                await self.jobs.update_one(
                    {"_id": name}, {"$set": {"job": None, "status": PENDING}, "$inc": {"generation": 1}}
                )
        return stored

    async def push_flow(self, flow_id: str) -> None:
        for doc in await self.jobs.find({"flow_id": flow_id}, {"_id": 1}).to_list():
            await self.push(doc["_id"])

    async def push(self, name: str) -> None:
        """Bring one job to ecron (create, update or delete) if no one else is doing it right now."""
        now = datetime.now(UTC)
        doc = await self.jobs.find_one_and_update(
            {"_id": name, "lease_until": {"$lt": now}},
            {"$set": {"lease_until": now + timedelta(seconds=PUSH_LEASE_S)}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            return
        job, job_id, generation = doc.get("job"), doc.get("ecron_job_id"), doc.get("generation")
        if job is None:
            outcome = await self.ecron.delete(job_id) if job_id else Outcome(ACTIVE, gone=True)
            if outcome.gone:
                await self.jobs.delete_one({"_id": name, "generation": generation})
            await self._release(name, outcome, job_id, generation)
            return
        outcome = await self.ecron.upsert(job_id, job)
        await self._release(name, outcome, outcome.job_id or job_id, generation)
        await self._mirror(doc, outcome, outcome.job_id or job_id)

    async def _release(self, name: str, outcome: Outcome, job_id: str | None, generation: Any) -> None:
        if outcome.status != ACTIVE:
            log.warning("cron trigger job %s not in ecron yet: %s", name, outcome.message)
        fields = {"ecron_job_id": job_id, "lease_until": EPOCH, "message": outcome.message}
        await self.jobs.update_one({"_id": name}, {"$set": fields})
        await self.jobs.update_one({"_id": name, "generation": generation}, {"$set": {"status": outcome.status}})

    async def _mirror(self, doc: dict[str, Any], outcome: Outcome, job_id: str | None) -> None:
        index = doc["index"]
        await self.flows.update_one(
            {"_id": doc["flow_id"], f"trigger_state.{index}.job_name": doc["_id"]},
            {
                "$set": {
                    f"trigger_state.{index}.status": outcome.status,
                    f"trigger_state.{index}.ecron_job_id": job_id,
                    f"trigger_state.{index}.message": outcome.message,
                }
            },
        )

    async def remove(self, flow_id: str) -> None:
        await self.plan(flow_id, {})
        await self.push_flow(flow_id)

    async def reconcile(self) -> None:
        """Push every job that ecron does not have as wanted yet."""
        for doc in await self.jobs.find({"status": {"$ne": ACTIVE}}, {"_id": 1}).to_list():
            await self.push(doc["_id"])

    async def reconcile_forever(self) -> None:
        while True:
            await asyncio.sleep(RECONCILE_INTERVAL_S)
            try:
                await self.reconcile()
            except Exception as exc:  # noqa: BLE001 - the next round retries; MongoDB may be down
                log.warning("cron trigger reconciliation failed, retrying in %.0fs: %s", RECONCILE_INTERVAL_S, exc)
