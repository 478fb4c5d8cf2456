"""``python``: a function of the message, written in Python, run in-process under the sandbox policy.

The code defines ``process(value)``; it is compiled once, when the pipeline
is saved and again when a worker loads it, with the same RestrictedPython
policy (builtins, guards, import allowlist) as coderunner, and then called
per record with no process or serialisation cost. ``process`` returns the
new value, ``None`` to drop the record, or a list of values to emit several.
An exception, or a policy violation, sends that record to the dead-letter
topic with the error type, message and program line.

There is no process boundary here (that is coderunner's second wall): the
policy keeps code from reaching files, the network or the interpreter, but
not from spending CPU. A program that loops forever stalls its pipeline,
visible in the status as a growing lag; keep heavy work in coderunner.
"""

from __future__ import annotations

import traceback
from typing import Any, Literal

from pydantic import Field, field_validator

from common.sandbox import OutputBuffer, SandboxPolicy, SandboxViolation, compile_program
from common.sandbox.policy import PROGRAM_FILENAME
from common.sandbox.values import UnserializableResult, encode_value
from stream_pipeline.records import DeadLetter, Record
from stream_pipeline.steps.base import Step, StepConfig

MAX_CODE_BYTES = 256 * 1024
_POLICY: SandboxPolicy | None = None


def sandbox_policy() -> SandboxPolicy:
    """One policy per process: its builtins and module proxies are shared by every python step."""
    global _POLICY
    if _POLICY is None:
        _POLICY = SandboxPolicy()
    return _POLICY


class PythonStepError(Exception):
    """The step's program raised; the message carries the original type and line."""


class PythonConfig(StepConfig):
    type: Literal["python"]
    code: str = Field(description="Python source defining process(value)", max_length=MAX_CODE_BYTES)

    @field_validator("code")
    @classmethod
    def _compiles(cls, code: str) -> str:
        try:
            compile_program(code)
        except SandboxViolation as exc:
            raise ValueError(f"line {exc.lineno or '?'}: refused by the sandbox policy: {exc}") from None
        except SyntaxError as exc:
            raise ValueError(f"line {exc.lineno or '?'}: syntax error: {exc.msg}") from None
        if "process" not in code:
            raise ValueError("the code must define a function process(value)")
        return code


class PythonStep(Step):
    type = "python"
    config_model = PythonConfig

    def __init__(self, config: PythonConfig, *args: object) -> None:
        super().__init__(config, *args)  # type: ignore[arg-type]
        program = compile_program(config.code)
        namespace = sandbox_policy().make_globals(inputs={}, output=OutputBuffer(64 * 1024))
        exec(program.code, namespace)  # compiled by RestrictedPython: runs under the sandbox policy
        function = namespace.get("process")
        if not callable(function):
            raise ValueError("the python step's code must define a function process(value)")
        self.function = function

    def process(self, records: list[Record], dead: list[DeadLetter]) -> list[Record]:
        survivors: list[Record] = []
        function = self.function
        for record in records:
            try:
                result = function(record.value)
                if result is None:
                    continue
                if isinstance(result, list):
                    survivors.extend(record.derive(_json_ready(item)) for item in result)
                else:
                    record.value = _json_ready(result)
                    survivors.append(record)
            except (Exception, SystemExit) as exc:  # noqa: BLE001 - anything the program raises dead-letters its record
                dead.append(DeadLetter(record, stage=self.label, error_type=type(exc).__name__, message=_describe(exc)))
        return survivors


def _json_ready(value: Any) -> Any:
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return encode_value(value)


def _describe(exc: BaseException) -> str:
    if isinstance(exc, UnserializableResult):
        return f"process() returned a value that is not JSON: {exc}"
    line = exc.lineno if isinstance(exc, SandboxViolation) else None
    for frame, lineno in traceback.walk_tb(exc.__traceback__):
        if frame.f_code.co_filename == PROGRAM_FILENAME:
            line = lineno
    try:
        message = str(exc)
    except Exception:  # noqa: BLE001 - a broken __str__ must not break the report
        message = repr(exc)
    return (f"line {line}: " if line else "") + message[:4000]
