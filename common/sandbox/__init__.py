"""The RestrictedPython policy shared by every place that runs user code.

coderunner runs programs in isolated worker processes under this policy;
stream_pipeline compiles its filter expressions and python steps with the same
policy in-process. The policy is the first wall (what code may name, import,
read and write); process isolation and rlimits (coderunner) are the second.
"""

from common.sandbox.errors import SandboxViolation
from common.sandbox.guards import SANDBOX_MODULE_NAME
from common.sandbox.policy import CompiledProgram, OutputBuffer, SandboxPolicy, compile_program

__all__ = [
    "SANDBOX_MODULE_NAME",
    "CompiledProgram",
    "OutputBuffer",
    "SandboxPolicy",
    "SandboxViolation",
    "compile_program",
]
