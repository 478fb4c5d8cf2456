"""Garbage collection for long-running processes: no pauses of a tenth of a second in the middle of work.

CPython's cycle collector occasionally scans every container object the
process holds. A service holds several hundred thousand of them from its
imports alone (pandas, pydantic, pymongo, Tornado), so such a full
collection paused an executor or the API for 90-250 ms, several times a
minute under load: every task running at that moment waited for it.

:func:`settle` runs once startup is done: it collects what startup left
behind, then *freezes* every object still alive (``gc.freeze``), so later
collections skip them (they live as long as the process anyway). It also
lets more allocations pass between young collections: a busy event loop
allocates thousands of short-lived containers per millisecond, and most of
them are freed by reference counting before a collection would find them.
"""

from __future__ import annotations

import gc

#: Allocations (minus deallocations) of container objects between two young collections (CPython: 700).
YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Collect startup's garbage, exempt what is left from future collections, and space young collections out."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
