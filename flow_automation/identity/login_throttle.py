"""Limits on failed sign-ins, shared by every replica through MongoDB.

Two limits apply within a sliding window (``DATAFLOW_OAUTH_LOGIN_FAILURE_WINDOW_S``,
60 s): failures for one username from one client address
(``DATAFLOW_OAUTH_LOGIN_MAX_FAILURES``, 10), which stops guessing from one
place without locking the person out elsewhere, and failures for one
username from any address (``DATAFLOW_OAUTH_LOGIN_MAX_ACCOUNT_FAILURES``,
50), which stops guessing spread over many addresses (or over forged
``X-Forwarded-For`` headers when the service is reachable without a proxy).
Once a limit is reached, sign-in for that username answers 429 until old
failures leave the window; a blocked attempt is not checked and not counted.

Each failure is one small insert; usernames and addresses are stored as
digests only. Expired failures are deleted on a timer (FerretDB has no TTL).
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime, timedelta

from pymongo.asynchronous.database import AsyncDatabase

from common.mongo import as_utc
from flow_automation.identity.accounts import digest

LOGIN_FAILURES_COLLECTION = "oauth_login_failures"  # recent failed sign-ins, by username and address digests


def account_key(username: str) -> str:
    return digest("account\x00" + username.strip().lower())


def address_key(username: str, remote_ip: str) -> str:
    return digest("address\x00" + username.strip().lower() + "\x00" + remote_ip)


def retry_after(failures: list[datetime], *, limit: int, window_s: int, now: datetime) -> int | None:
    """Seconds until fewer than ``limit`` of ``failures`` are inside the window; ``None`` when not blocked."""
    window = timedelta(seconds=window_s)
    recent = sorted(at for at in failures if now - at < window)
    if len(recent) < limit:
        return None
    # The oldest failures leave the window first; once len(recent) - limit + 1 of them left, one more try is allowed.
    leaves_at = recent[len(recent) - limit] + window
    return max(1, math.ceil((leaves_at - now).total_seconds()))


class LoginThrottle:
    def __init__(self, db: AsyncDatabase, *, max_failures: int, max_account_failures: int, window_s: int) -> None:
        self.collection = db[LOGIN_FAILURES_COLLECTION]
        self.max_failures = max_failures
        self.max_account_failures = max_account_failures
        self.window_s = window_s

    async def blocked_for(self, username: str, remote_ip: str) -> int | None:
        """Seconds to wait before ``username`` may try again from ``remote_ip``; ``None`` when allowed."""
        now = datetime.now(UTC)
        since = now - timedelta(seconds=self.window_s)
        account = account_key(username)
        address = address_key(username, remote_ip)
        documents = await self.collection.find(
            {"account": account, "at": {"$gt": since}}, {"address": 1, "at": 1}
        ).to_list()
        times = [as_utc(doc["at"]) for doc in documents]
        waits = [
            retry_after(times, limit=self.max_account_failures, window_s=self.window_s, now=now),
            retry_after(
                [as_utc(doc["at"]) for doc in documents if doc.get("address") == address],
                limit=self.max_failures,
                window_s=self.window_s,
                now=now,
            ),
        ]
        blocking = [wait for wait in waits if wait is not None]
        return max(blocking) if blocking else None

    async def record_failure(self, username: str, remote_ip: str) -> None:
        await self.collection.insert_one(
            {
                "_id": uuid.uuid4().hex,
                "account": account_key(username),
                "address": address_key(username, remote_ip),
                "at": datetime.now(UTC),
            }
        )

    async def purge_expired(self) -> int:
        since = datetime.now(UTC) - timedelta(seconds=self.window_s)
        result = await self.collection.delete_many({"at": {"$lt": since}})
        return result.deleted_count
