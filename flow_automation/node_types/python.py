"""``python``: a Python program run in coderunner's sandbox.

The program sees its inputs as ``inputs`` (tables as DataFrames) and whatever
it binds to ``result`` becomes the output ``result``. The code is compiled
under the sandbox policy when the flow is saved, so a syntax error or a
refused construct is a 422 naming the line, not a failed run at night.

Execution goes through coderunner's ``POST /api/v1/execute``. Inputs travel
as coderunner expects them (:mod:`common.sandbox.values`: tables in pandas'
"table" orientation, bytes as base64), and tables in the result come back as
DataFrames, so a table round-trips through a program unchanged. A program
that fails is a :class:`ProgramError`, which names the sandbox's error type,
its message and the line.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import Field, field_validator

from common.sandbox import SandboxViolation, compile_program
from common.sandbox.values import UnserializableResult, decode_value, encode_value, is_table
from flow_automation.node_types._base import NodeConfig, NodeContext, NodeError, NodeType, Port, PortKind
from flow_automation.node_types._coderunner import post


class PythonConfig(NodeConfig):
    code: str = Field(
        min_length=1,
        title="Code",
        description="Python run in the sandbox; read inputs['name'], bind the output to result",
        json_schema_extra={"format": "code", "contentMediaType": "text/x-python"},
    )
    memory_mb: int | None = Field(
        None, ge=32, title="Memory limit (MB)", description="empty: coderunner's default limit"
    )

    @field_validator("code")
    @classmethod
    def _compiles_under_the_sandbox_policy(cls, code: str) -> str:
        try:
            compile_program(code)
        except SyntaxError as exc:
            raise ValueError(f"line {exc.lineno}: {exc.msg}") from None
        except SandboxViolation as exc:
            raise ValueError(f"line {exc.lineno}: {exc}" if exc.lineno else str(exc)) from None
        return code


class ProgramError(NodeError):
    """The program failed in the sandbox: ``error_type`` (e.g. ``ZeroDivisionError``), message and line."""

    def __init__(self, error_type: str, message: str, line: int | None, stdout: str = "") -> None:
        where = f" at line {line}" if line else ""
        super().__init__(f"{error_type}{where}: {message}")
        self.error_type = error_type
        self.line = line
        self.stdout = stdout


def run(context: NodeContext[PythonConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    settings = context.require_services().settings
    timeout_s = settings.coderunner_default_timeout_s if context.timeout_s is None else context.timeout_s
    timeout_s = min(timeout_s, settings.coderunner_max_timeout_s)
    body: dict[str, Any] = {"code": context.config.code, "inputs": encode_inputs(inputs), "timeout_s": timeout_s}
    if context.config.memory_mb is not None:
        body["memory_mb"] = context.config.memory_mb
    answer = post(context, "/api/v1/execute", body, work_timeout_s=timeout_s).json()
    log_printed(context, answer.get("stdout") or "")
    if not answer.get("ok"):
        error = answer.get("error") or {}
        raise ProgramError(
            str(error.get("type") or "Error"),
            str(error.get("message") or "the program failed"),
            error.get("line"),
            answer.get("stdout", ""),
        )
    if answer.get("stderr"):
        context.log.warning("program of node %s wrote to stderr: %s", context.node_id, answer["stderr"][:2000])
    return {"result": decode_result(answer.get("result")), "stdout": answer.get("stdout", "")}


def log_printed(context: NodeContext[Any], stdout: str, limit: int = 500) -> None:
    """What the program printed goes to the task's log too (up to ``limit`` lines; all of it in ``stdout``)."""
    lines = stdout.splitlines()
    for line in lines[:limit]:
        context.log.info("%s", line)
    if len(lines) > limit:
        context.log.info("... %d more printed lines in the stdout output", len(lines) - limit)


def encode_inputs(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The inputs as coderunner's JSON: tables in the "table" orientation, bytes as base64."""
    encoded = {}
    for name, value in inputs.items():
        try:
            encoded[name] = encode_value(value)
        except UnserializableResult as exc:
            raise NodeError(f"input {name!r} cannot be sent to the sandbox: {exc}") from None
    return encoded


def decode_result(value: Any) -> Any:
    """A result from coderunner with every table in it (also inside lists and dicts) back as a DataFrame."""
    if is_table(value):
        return decode_value(value)
    if isinstance(value, dict):
        return {key: decode_result(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_result(item) for item in value]
    return value


NODE_TYPE = NodeType(
    id="python",
    title="Python",
    category="Code",
    description="Run Python in the sandbox; inputs under any names, the value bound to result comes out.",
    outputs=(
        Port(name="result", kind=PortKind.ANY, description="what the program bound to result"),
        Port(name="stdout", kind=PortKind.TEXT, description="what the program printed"),
    ),
    config_model=PythonConfig,
    run=run,
    extra_inputs=PortKind.ANY,
)
