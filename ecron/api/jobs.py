"""``/api/v1/jobs``: cron jobs, their pause, resume and immediate runs, and their executions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from common.pagination import PageQuery
from common.scopes import CRON_READ, CRON_WRITE
from common.web import ApiHandler, endpoint
from ecron.jobs import job_document
from ecron.models import Execution, ExecutionList, Job, JobList, JobSpec


class JobListQuery(PageQuery):
    name: str | None = Field(None, description="only jobs with exactly this name")
    label: str | None = Field(None, description="only jobs carrying this label, as key=value")


class RunAccepted(BaseModel):
    execution: Execution


class EcronHandler(ApiHandler):
    async def after_change(self, job: Job | None, job_id: str) -> None:
        """The node that served a change updates its own plan at once (the others follow the feed)."""
        self.application.scheduler.apply_job(job_document(job) if job else None, job_id)


class JobsHandler(EcronHandler):
    @endpoint(scopes=[CRON_READ], summary="List cron jobs, newest first", query=JobListQuery, response=JobList)
    async def get(self, *, query: JobListQuery) -> dict[str, Any]:
        filters: dict[str, Any] = {}
        if query.name:
            filters["name"] = query.name
        if query.label:
            key, _, value = query.label.partition("=")
            filters[f"labels.{key}"] = value
        return await self.application.jobs.page(PageQuery(limit=query.limit, cursor=query.cursor), filters)

    @endpoint(
        scopes=[CRON_WRITE],
        summary="Create a cron job",
        description="An invalid cron expression, timezone or date answers 422 with the parser's reason.",
        body=JobSpec,
        response=Job,
        status=201,
        audit="job.create",
    )
    async def post(self, *, body: JobSpec) -> Job:
        job = await self.application.jobs.create(body)
        self.audit_object_id = job.id
        await self.after_change(job, job.id)
        self.set_header("Location", f"/api/v1/jobs/{job.id}")
        return job


class JobHandler(EcronHandler):
    @endpoint(scopes=[CRON_READ], summary="One cron job", response=Job)
    async def get(self, job_id: str) -> Job:
        return await self.application.jobs.get(job_id)

    @endpoint(
        scopes=[CRON_WRITE],
        summary="Replace a cron job's definition",
        description="Slots are planned again from now; executions already running finish as they were.",
        body=JobSpec,
        response=Job,
        audit="job.update",
    )
    async def put(self, job_id: str, *, body: JobSpec) -> Job:
        job = await self.application.jobs.replace(job_id, body)
        await self.after_change(job, job_id)
        return job

    @endpoint(scopes=[CRON_WRITE], summary="Delete a cron job and its history", status=204, audit="job.delete")
    async def delete(self, job_id: str) -> None:
        await self.application.jobs.delete(job_id)
        await self.after_change(None, job_id)
        await self.application.executions.delete_for_job(job_id)
        self.set_status(204)
        self.finish()


class PauseHandler(EcronHandler):
    @endpoint(
        scopes=[CRON_WRITE], summary="Pause a job: no slot fires until it is resumed", response=Job, audit="job.pause"
    )
    async def post(self, job_id: str) -> Job:
        job = await self.application.jobs.set_paused(job_id, True)
        await self.after_change(job, job_id)
        return job


class ResumeHandler(EcronHandler):
    @endpoint(
        scopes=[CRON_WRITE],
        summary="Resume a paused job",
        description="Slots that passed while the job was paused are not fired; the next one after now is.",
        response=Job,
        audit="job.resume",
    )
    async def post(self, job_id: str) -> Job:
        job = await self.application.jobs.set_paused(job_id, False)
        await self.after_change(job, job_id)
        return job


class RunHandler(EcronHandler):
    @endpoint(
        scopes=[CRON_WRITE],
        summary="Run a job now, outside its schedule",
        description="Answers at once with the execution; follow it at /api/v1/executions/{id}.",
        response=RunAccepted,
        status=202,
        audit="job.run",
    )
    async def post(self, job_id: str) -> dict[str, Any]:
        await self.application.jobs.get(job_id)
        document = await self.application.scheduler.run_now(job_id)
        return {"execution": {**document, "id": document["_id"]}}


class JobExecutionsHandler(ApiHandler):
    @endpoint(
        scopes=[CRON_READ],
        summary="A job's executions, newest first",
        query=PageQuery,
        response=ExecutionList,
    )
    async def get(self, job_id: str, *, query: PageQuery) -> dict[str, Any]:
        await self.application.jobs.get(job_id)
        return await self.application.executions.page_for_job(job_id, query)
