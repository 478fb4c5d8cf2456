"""Garbage collection settled after startup: startup's objects frozen, young collections spaced out."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from common import gc_tuning


@pytest.fixture
def restored_gc() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("restored_gc")
def test_settle_freezes_what_startup_left_and_spaces_young_collections() -> None:
    kept = [{"startup": index} for index in range(1000)]  # alive at settle: frozen with the rest
    gc.unfreeze()
    _, middle, old = gc.get_threshold()

    gc_tuning.settle()

    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (gc_tuning.YOUNG_THRESHOLD, middle, old)
    # Frozen objects are out of every generation: a full collection no longer scans them.
    assert not any(obj is kept for generation in range(3) for obj in gc.get_objects(generation))


@pytest.mark.usefixtures("restored_gc")
def test_a_cycle_made_after_settle_is_still_collected() -> None:
    gc_tuning.settle()

    class Node:
        other: object = None

    first, second = Node(), Node()
    first.other, second.other = second, first
    del first, second

    assert gc.collect() >= 2
