"""Sharing work among the live members of a service by rendezvous hashing.

Every member computes the same owner for a key from the same member list,
with no coordination, and a member joining or leaving moves only the keys it
owns or takes (about 1/n of them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable


def owner_of(key: str, members: Iterable[str]) -> str | None:
    """The member that owns ``key`` (``None`` when there are no members)."""
    return max(
        members,
        key=lambda member: hashlib.blake2b(f"{member}|{key}".encode(), digest_size=8).digest(),
        default=None,
    )
