"""The shapes of ecron's API and storage: jobs, actions, policies, executions.

One pydantic definition per shape validates requests, documents the OpenAPI
schema and is what is stored in MongoDB.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ecron.schedules import Schedule


class MisfirePolicy(StrEnum):
    """What to do with slots found more than ``grace_s`` late (nodes down, MongoDB unreachable)."""

    skip = "skip"  # record each late slot as missed; fire none of them
    run_once = "run_once"  # fire the most recent late slot, record the earlier ones as missed
    run_all = "run_all"  # fire every late slot, oldest first


class ExecutionStatus(StrEnum):
    claimed = "claimed"
    running = "running"
    retrying = "retrying"
    succeeded = "succeeded"
    failed = "failed"
    missed = "missed"
    skipped = "skipped"
    interrupted = "interrupted"  # its node died before it finished; a takeover execution ran it again


class JobState(StrEnum):
    active = "active"
    paused = "paused"
    finished = "finished"  # no schedule has a fire time left


class HttpAction(BaseModel):
    """An HTTP request. ``body`` is sent as JSON with template variables filled in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["http"] = "http"
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "POST"
    url: str = Field(pattern=r"^https?://[^\s/]+", max_length=2000)
    headers: dict[str, str] = Field(default_factory=dict)
    body: Any = None
    timeout_s: float = Field(30.0, gt=0, le=3600)
    expected_status: list[int] = Field(
        default_factory=list, description="statuses that count as success; empty means any 2xx"
    )
    auth: Literal["auto", "service", "none"] = Field(
        "auto", description="auto: a client-credentials token when the URL is a Dataflow service"
    )


class KafkaAction(BaseModel):
    """A message to a Kafka topic (which must exist: topics are not created automatically)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["kafka"] = "kafka"
    topic: str = Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")
    key: str | None = Field(None, max_length=1000)
    value: Any = None
    headers: dict[str, str] = Field(default_factory=dict)
    timeout_s: float = Field(10.0, gt=0, le=300)


Action = Annotated[HttpAction | KafkaAction, Field(discriminator="type")]


class RetryPolicy(BaseModel):
    """Attempts of one execution: exponential backoff between them, capped."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(3, ge=1, le=20)
    backoff_s: float = Field(1.0, ge=0, le=3600, description="delay before the second attempt")
    max_backoff_s: float = Field(60.0, ge=0, le=86400)
    multiplier: float = Field(2.0, ge=1, le=10)

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before ``attempt`` (2 for the first retry)."""
        return min(self.max_backoff_s, self.backoff_s * self.multiplier ** max(0, attempt - 2))


class Misfire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy: MisfirePolicy = MisfirePolicy.run_once
    grace_s: float = Field(30.0, ge=0, le=7 * 86400, description="a slot later than this is a misfire")


class JobSpec(BaseModel):
    """What a client sends to create or replace a job.

    Give one ``schedule`` or a list of ``schedules`` (their fire times are merged).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=2000)
    schedule: Schedule | None = None
    schedules: list[Schedule] | None = Field(None, min_length=1, max_length=20)
    action: Action
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    max_concurrent: int = Field(1, ge=1, le=1000, description="executions of this job running at once")
    misfire: Misfire = Field(default_factory=Misfire)
    paused: bool = False
    labels: dict[str, str] = Field(default_factory=dict, description="free-form tags, such as the owning flow")

    @model_validator(mode="after")
    def _some_schedule(self) -> JobSpec:
        if (self.schedule is None) == (self.schedules is None):
            raise ValueError("give either 'schedule' or 'schedules' (a list), not both or neither")
        return self

    def all_schedules(self) -> list[Schedule]:
        return list(self.schedules) if self.schedules is not None else [self.schedule]  # type: ignore[list-item]


class Job(BaseModel):
    """A job as stored and returned."""

    id: str
    name: str
    description: str = ""
    schedules: list[Schedule]
    action: Action
    retry: RetryPolicy
    max_concurrent: int
    misfire: Misfire
    labels: dict[str, str] = Field(default_factory=dict)
    state: JobState
    revision: int = Field(description="bumped on every change")
    next_fire_at: datetime | None = Field(None, description="the next slot when the job was last changed")
    anchor: datetime = Field(description="slots before this are never fired (creation, resume or schedule change)")
    created_at: datetime
    updated_at: datetime


class JobList(BaseModel):
    items: list[Job]
    next_cursor: str | None = None


class Execution(BaseModel):
    """One fired (or deliberately not fired) slot, or an immediate run."""

    id: str
    job_id: str
    trigger: Literal["schedule", "manual", "takeover"] = Field(
        description="takeover: a slot run again because the node holding it died (see continues)"
    )
    scheduled_time: datetime
    fire_time: datetime = Field(description="scheduled time plus jitter")
    fired_at: datetime | None = None
    finished_at: datetime | None = None
    node: str | None = None
    attempt: int = 0
    status: ExecutionStatus
    duration_ms: float | None = None
    response: dict[str, Any] | None = None
    error: str | None = None
    takeovers: int = Field(0, description="times another node took this execution over from a dead one")
    attempt_errors: list[str] = Field(default_factory=list, description="why each failed attempt failed")
    misfire: str | None = Field(None, description="why a late slot was fired or not")
    continues: str | None = Field(None, description="the interrupted execution this takeover execution runs again")
    continued_as: str | None = Field(None, description="the takeover execution that ran this interrupted one again")


class ExecutionList(BaseModel):
    items: list[Execution]
    next_cursor: str | None = None


class Node(BaseModel):
    id: str
    host: str
    pid: int
    version: str
    started_at: datetime
    heartbeat_at: datetime
    lease_expires_at: datetime
    alive: bool
    active_executions: int


class NodeList(BaseModel):
    items: list[Node]


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    schedule: Schedule | None = None
    schedules: list[Schedule] | None = Field(None, min_length=1, max_length=20)
    count: int = Field(10, ge=1, le=1000)
    after: datetime | None = Field(None, description="list fire times after this instant (default: now)")

    @model_validator(mode="after")
    def _some_schedule(self) -> PreviewRequest:
        if (self.schedule is None) == (self.schedules is None):
            raise ValueError("give either 'schedule' or 'schedules' (a list), not both or neither")
        return self


class PreviewResponse(BaseModel):
    fire_times: list[datetime] = Field(description="ISO 8601 with the offset of the (first) schedule's timezone")
