"""The failure of one action attempt."""

from __future__ import annotations

from typing import Any


class ActionFailed(Exception):
    """An attempt failed: a refused connection, a timeout, an unexpected status, a broker error."""

    def __init__(self, message: str, *, response: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.response = response
