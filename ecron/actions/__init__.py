"""What a job does when a slot fires: one module per action type.

An action runner first prepares the job's action with the template
variables of the execution (before the fire time, so firing does as little
as possible), then runs the prepared action once per attempt and returns a
short, JSON-ready summary of what happened, or raises :class:`ActionFailed`
(the attempt counts as failed and may be retried).
Adding an action type means one model in :mod:`ecron.models` and one module here.
"""

from __future__ import annotations

from typing import Any, Protocol

from ecron.actions.errors import ActionFailed


class ActionRunner(Protocol):
    def prepare(self, action: Any, variables: dict[str, str]) -> Any: ...

    async def run(self, prepared: Any) -> dict[str, Any]: ...

    async def close(self) -> None: ...


__all__ = ["ActionFailed", "ActionRunner"]
