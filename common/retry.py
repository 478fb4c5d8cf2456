"""One retry policy for transient store and broker failures.

MongoDB elections, a restarting broker or a dropped connection are retried
with exponential backoff and jitter, each attempt logged; anything else fails
at once. Domain code wraps its store calls with :func:`retry_transient`
instead of writing its own loops.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from tenacity import (
    AsyncRetrying,
    Retrying,
    before_sleep_log,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from common.kafka import TRANSIENT_KAFKA_ERRORS
from common.mongo import TRANSIENT_MONGO_ERRORS

log = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT_ERRORS: tuple[type[Exception], ...] = TRANSIENT_MONGO_ERRORS + TRANSIENT_KAFKA_ERRORS


def _policy(attempts: int, max_delay_s: float) -> dict[str, Any]:
    return {
        "retry": retry_if_exception_type(TRANSIENT_ERRORS),
        "stop": stop_after_attempt(attempts) | stop_after_delay(max_delay_s),
        "wait": wait_exponential_jitter(multiplier=0.1, max=5.0, jitter=0.2),
        "before_sleep": before_sleep_log(log, logging.WARNING),
        "reraise": True,
    }


async def retry_transient(operation: Callable[[], Any], *, attempts: int = 5, max_delay_s: float = 30.0) -> Any:
    """Await ``operation()`` again while it fails with a transient error."""
    async for attempt in AsyncRetrying(**_policy(attempts, max_delay_s)):
        with attempt:
            return await operation()
    raise AssertionError("unreachable")  # pragma: no cover


def retry_transient_sync(operation: Callable[[], T], *, attempts: int = 5, max_delay_s: float = 30.0) -> T:
    """The blocking twin of :func:`retry_transient`, for worker threads."""
    for attempt in Retrying(**_policy(attempts, max_delay_s)):
        with attempt:
            return operation()
    raise AssertionError("unreachable")  # pragma: no cover
