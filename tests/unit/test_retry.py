"""The shared retry policy retries transient store and broker failures only."""

from __future__ import annotations

import asyncio

import pytest
from kafka.errors import KafkaConnectionError
from pymongo.errors import AutoReconnect, DuplicateKeyError

from common.retry import retry_transient, retry_transient_sync


def test_transient_failures_are_retried_until_success() -> None:
    calls = []

    async def flaky() -> str:
        calls.append(1)
        if len(calls) < 3:
            raise AutoReconnect("primary stepped down")
        return "done"

    assert asyncio.run(retry_transient(flaky, attempts=5)) == "done"
    assert len(calls) == 3


def test_other_errors_fail_at_once() -> None:
    calls = []

    async def duplicate() -> None:
        calls.append(1)
        raise DuplicateKeyError("exists")

    with pytest.raises(DuplicateKeyError):
        asyncio.run(retry_transient(duplicate))
    assert len(calls) == 1


def test_sync_retry_gives_up_after_its_attempts() -> None:
    calls = []

    def broker_down() -> None:
        calls.append(1)
        raise KafkaConnectionError("refused")

    with pytest.raises(KafkaConnectionError):
        retry_transient_sync(broker_down, attempts=3)
    assert len(calls) == 3
