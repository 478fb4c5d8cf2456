"""What a job does when a slot fires: one module per action type.

An action runner takes the job's action model and the template variables of
the execution and returns a short, JSON-ready summary of what happened, or
raises :class:`ActionFailed` (the attempt counts as failed and may be retried).
Adding an action type means one model in :mod:`ecron.models` and one module here.
"""

from __future__ import annotations

from typing import Any, Protocol

from ecron.actions.errors import ActionFailed


class ActionRunner(Protocol):
    async def run(self, action: Any, variables: dict[str, str]) -> dict[str, Any]: ...

    async def close(self) -> None: ...


__all__ = ["ActionFailed", "ActionRunner"]
