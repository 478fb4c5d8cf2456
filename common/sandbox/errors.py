"""The error sandboxed code gets when the policy refuses something."""

from __future__ import annotations


class SandboxViolation(Exception):
    """Sandboxed code tried something the policy refuses.

    ``lineno`` is the program line when known at compile time; at run time the
    runner finds it in the traceback.
    """

    def __init__(self, message: str, *, lineno: int | None = None) -> None:
        super().__init__(message)
        self.lineno = lineno
