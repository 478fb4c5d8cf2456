"""``POST /api/v1/execute``: run a program in the sandbox."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from common.scopes import CODE_EXECUTE
from common.web import ApiHandler, endpoint


class ExecuteRequest(BaseModel):
    """A program and what it runs with.

    ``inputs`` is bound to the name ``inputs``; table-shaped values (pandas'
    "table" orientation, ``{"schema": {"fields": ...}, "data": [...]}``) arrive as
    DataFrames. Whatever the program binds to ``result`` is returned.
    """

    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="Python source, run under the sandbox policy")
    inputs: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = Field(None, gt=0, description="wall-clock limit; default and maximum are configurable")
    memory_mb: int | None = Field(None, ge=32, description="memory limit; default and maximum are configurable")


class ExecutionError(BaseModel):
    type: str = Field(description="SandboxViolation, SyntaxError, TimeoutError, MemoryError, ValueError, ...")
    message: str
    line: int | None = Field(description="the program line, when known")


class ExecuteResponse(BaseModel):
    ok: bool
    result: Any = None
    stdout: str
    stderr: str
    error: ExecutionError | None
    duration_ms: float


class ExecuteHandler(ApiHandler):
    @endpoint(
        scopes=[CODE_EXECUTE],
        summary="Run a Python program in the sandbox",
        description="A program that fails, overruns or is refused still answers 200 with ok=false and the error.",
        body=ExecuteRequest,
        response=ExecuteResponse,
        audited=False,
        errors=(429,),
    )
    async def post(self, *, body: ExecuteRequest) -> dict[str, Any]:
        return await self.application.executor.execute(body.code, body.inputs, body.timeout_s, body.memory_mb)
