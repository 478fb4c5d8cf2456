"""Arrival trees climbed by several processes, each remembering the tree nodes it inserted; queue order."""

from __future__ import annotations

import asyncio
import random

from common.sharding import owner_of
from flow_automation.engine import journal as jr
from flow_automation.engine import states as st
from flow_automation.engine.runs import Arrival, Climber, meet
from flow_automation.executor import own_first


def climb_one_at_a_time(count: int, process_of: list[int], order: list[int]) -> tuple[list[int], int]:
    """Arrivals climb one after another, each in its process, against one store of inserted tree nodes (the
    journal's unique ids). Returns (the arrivals that passed the root, the inserts that found their node taken)."""
    loop = asyncio.new_event_loop()
    try:
        store: set[tuple[int, int]] = set()
        known: dict[int, set[tuple[int, int]]] = {}
        passed, lost = [], 0
        for index in order:
            mine = known.setdefault(process_of[index], set())
            arrival = Arrival("sink", 1, tuple(jr.climb(index, count)), f"m{index}", st.SUCCEEDED)
            climber = Climber(arrival, loop.create_future())
            while not climber.future.done():
                if not meet([climber], mine):
                    break  # passed the root (its future says so)
                if climber.node in store:  # the insert fails: the other side was here first
                    lost += 1
                    climber.step += 1
                    continue
                store.add(climber.node)
                mine.add(climber.node)
                climber.future.set_result(False)
            if climber.future.result():
                passed.append(index)
        return passed, lost
    finally:
        loop.close()


def test_the_last_arrival_passes_the_root_whatever_process_ends_which_upstream() -> None:
    rng = random.Random(3)
    for count in [2, 3, 8, 37, 998]:
        for processes in [1, 2, 4]:
            order = rng.sample(range(count), count)
            process_of = [rng.randrange(processes) for _ in range(count)]
            assert climb_one_at_a_time(count, process_of, order)[0] == [order[-1]], (count, processes)


def test_a_process_never_races_itself_for_a_tree_node() -> None:
    rng = random.Random(5)
    order = rng.sample(range(998), 998)
    # Every upstream ended in one process: no insert ever finds its node taken.
    assert climb_one_at_a_time(998, [0] * 998, order) == ([order[-1]], 0)
    # Neighbours in blocks of eight on four processes (queue entries): only nodes above the blocks are raced for.
    blocks = [(index // 8) % 4 for index in range(998)]
    passed, lost = climb_one_at_a_time(998, blocks, order)
    assert passed == [order[-1]] and lost < 998 // 8


def test_an_executor_tries_the_queue_entries_it_owns_first() -> None:
    members = {"e1", "e2", "e3", "e4"}
    entries = [{"_id": f"run:w{i}:1:8"} for i in range(40)]
    tried = own_first(entries, members, "e2")
    mine = [entry for entry in entries if owner_of(entry["_id"], members) == "e2"]
    assert mine and sorted(map(str, tried[: len(mine)])) == sorted(map(str, mine))
    assert sorted(map(str, tried)) == sorted(map(str, entries))
    # Alone (or before its first heartbeat read the others), it takes them in any order.
    assert sorted(map(str, own_first(entries, {"e2"}, "e2"))) == sorted(map(str, entries))
