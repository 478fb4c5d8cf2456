"""Deriving task states from a run's journal records (pure logic; the engine's tests run on the real servers)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from flow_automation.engine import journal as jr
from flow_automation.engine import states as st

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def plan(epochs: dict[str, tuple[int, int]] | None = None, attempt: int = 1) -> jr.RunPlan:
    run = {
        "_id": "r1",
        "flow_id": "f",
        "attempt": attempt,
        "epochs": {node: list(value) for node, value in (epochs or {}).items()},
    }
    definition = {
        "id": "f",
        "name": "f",
        "nodes": [
            {"id": "a", "type": "python", "config": {"code": "result = 1"}, "retries": 2},
            {"id": "b", "type": "noop", "inputs": {"x": "a.result"}},
            {"id": "c", "type": "noop"},
            {"id": "join", "type": "noop"},
        ],
        "edges": [{"from": "a", "to": "c"}, {"from": "b", "to": "join"}, {"from": "c", "to": "join"}],
    }
    return jr.RunPlan.of_run(run, jr.task_specs(definition))


def rec(kind: str, record_id: str, seconds: float, **fields: Any) -> dict[str, Any]:
    return {"_id": record_id, "kind": kind, "at": at(seconds), **fields}


def test_specs_carry_dependencies_what_they_read_and_downstream_links() -> None:
    p = plan()
    assert p.tasks["b"].deps == {"a": ("result",)}
    assert p.tasks["c"].deps == {"a": ()}
    assert {link.node for link in p.tasks["a"].downstream} == {"b", "c"}
    assert p.tasks["join"].lenient and not p.tasks["a"].lenient
    assert p.sinks() == ["join"] and p.waiting(jr.RUN_END) == 1
    assert p.waiting("a") == 0 and p.waiting("b") == 1 and p.waiting("join") == 2
    assert p.arrival("join", "b") == ("join", 1, 0) and p.arrival("join", "c") == ("join", 1, 1)
    assert p.arrival(jr.RUN_END, "join") == (jr.RUN_END, 1, 0)


def test_states_follow_the_records() -> None:
    p = plan()
    records = [
        rec("ready", "ready:a:1", 0, node="a", epoch=1),
        rec("claim", "claim:a:1", 1, node="a", epoch=1, attempt=1, executor="e1", transient=0),
        rec("retry", "retry:a:1", 2, node="a", epoch=1, attempt=1, error={"message": "boom"}, due=at(5)),
    ]
    tasks = jr.derive(p, records)
    assert tasks["a"]["state"] == st.RETRYING and tasks["a"]["attempts"] == 1
    assert tasks["a"]["error"] == {"message": "boom"} and tasks["a"]["ready_at"] == at(5)
    assert tasks["b"]["state"] == st.PENDING

    records.append(rec("claim", "claim:a:2", 6, node="a", epoch=1, attempt=2, executor="e2", transient=0))
    assert jr.derive(p, records)["a"]["state"] == st.RUNNING
    assert jr.derive(p, records)["a"]["executor"] == "e2"

    records.append(
        rec("final", "final:a:1", 7, node="a", epoch=1, attempt=2, state=st.SUCCEEDED, output_keys=["result"])
    )
    records.append(rec("ready", "ready:b:1", 7, node="b", epoch=1))
    tasks = jr.derive(p, records)
    assert tasks["a"]["state"] == st.SUCCEEDED and tasks["a"]["attempts"] == 2
    assert tasks["b"]["state"] == st.READY
    assert [h["state"] for h in tasks["a"]["history"]] == ["ready", "running", "retrying", "running", "succeeded"]


def test_a_final_record_claims_the_task_it_hands_off_to() -> None:
    # The executor that ended a decided c ready and claimed it with a's final record: c has no record yet.
    p = plan()
    final = rec("final", "final:a:1", 3, node="a", epoch=1, attempt=1, state=st.SUCCEEDED, executor="e1")
    final["handoff"] = ["c", 1, 1]
    assert jr.handoff_claim(final) == {
        "_id": "claim:c:1",
        "kind": "claim",
        "at": at(3),
        "node": "c",
        "epoch": 1,
        "attempt": 1,
        "executor": "e1",
        "handoff": True,
    }
    records = [final]
    task = jr.derive(p, records)["c"]
    assert task["state"] == st.RUNNING and task["executor"] == "e1" and task["claim_attempt"] == 1
    assert task["ready_at"] == at(3) and task["attempts"] == 1
    assert [(h["state"], h["at"]) for h in task["history"]] == [("ready", at(3)), ("running", at(3))]
    assert jr.derive(p, records)["a"]["state"] == st.SUCCEEDED
    # e1 died: the takeover's claim record is attempt 2, beside the attempt the final record claimed.
    records.append(rec("claim", "claim:c:2", 9, node="c", epoch=1, attempt=2, executor="e2", transient=1))
    task = jr.derive(p, records)["c"]
    assert task["state"] == st.RUNNING and task["executor"] == "e2" and task["attempts"] == 2
    records.append(rec("final", "final:c:1", 10, node="c", epoch=1, attempt=2, state=st.SUCCEEDED))
    assert [h["state"] for h in jr.derive(p, records)["c"]["history"]] == [
        "ready",
        "running",
        "running",
        "succeeded",
    ]
    assert jr.handoff_claim(records[-1]) is None


def test_a_task_handed_off_became_ready_when_its_claim_was_made() -> None:
    # Journals written before the final record claimed the task: a claim record marked handoff, no ready record.
    p = plan()
    records = [rec("claim", "claim:b:1", 3, node="b", epoch=1, attempt=1, executor="e1", transient=0, handoff=True)]
    task = jr.derive(p, records)["b"]
    assert task["state"] == st.RUNNING and task["ready_at"] == at(3)
    assert [(h["state"], h["at"]) for h in task["history"]] == [("ready", at(3)), ("running", at(3))]
    records.append(rec("final", "final:b:1", 4, node="b", epoch=1, attempt=1, state=st.SUCCEEDED))
    assert [h["state"] for h in jr.derive(p, records)["b"]["history"]] == ["ready", "running", "succeeded"]


def test_a_takeover_claim_shows_why_in_the_history() -> None:
    p = plan()
    records = [
        rec("claim", "claim:c:1", 1, node="c", epoch=1, attempt=1, executor="dead", transient=0),
        rec("claim", "claim:c:2", 9, node="c", epoch=1, attempt=2, executor="e2", transient=1, reason="lease expired"),
    ]
    task = jr.derive(p, records)["c"]
    assert task["state"] == st.RUNNING and task["transient_retries"] == 1
    assert {"state": "ready", "at": at(9), "reason": "lease expired"} in task["history"]


def test_a_retried_run_reads_the_new_epoch_and_counts_attempts_on() -> None:
    p = plan({"a": (2, 3), "b": (2, 0), "c": (2, 0), "join": (2, 0)}, attempt=2)
    records = [
        rec("final", "final:a:1", 1, node="a", epoch=1, attempt=3, state=st.FAILED, error={"message": "x"}),
        rec("final", "final:b:1", 1, node="b", epoch=1, state=st.UPSTREAM_FAILED),
    ]
    tasks = jr.derive(p, records)
    assert tasks["a"]["state"] == st.PENDING and tasks["a"]["attempts"] == 3  # the old attempts still count
    assert tasks["b"]["state"] == st.PENDING
    assert p.waiting("a") == 0 and p.waiting(jr.RUN_END) == 1


def test_only_upstream_in_the_same_epoch_is_waited_for() -> None:
    p = plan({"c": (2, 1), "join": (2, 0)}, attempt=2)
    assert p.waiting("join") == 1  # b succeeded in epoch 1 and is reused
    assert p.waiting("c") == 0
    assert p.arrival("join", "b") is None and p.arrival("join", "c") == ("join", 2, 0)
    assert p.arrival(jr.RUN_END, "join") == (jr.RUN_END, 2, 0)


def test_decisions_from_upstream_finals() -> None:
    p = plan()
    succeeded = {"state": st.SUCCEEDED, "output_keys": ["result"]}
    assert jr.decide_from(p, "b", {"a": succeeded}) == st.READY
    assert jr.decide_from(p, "b", {"a": {"state": st.SUCCEEDED, "output_keys": []}}) == st.SKIPPED
    assert jr.decide_from(p, "b", {"a": {"state": st.FAILED}}) == st.UPSTREAM_FAILED
    skipped = {"state": st.SKIPPED}
    assert jr.decide_from(p, "join", {"b": skipped, "c": succeeded}) == st.READY  # a lenient join
    assert jr.decide_from(p, "join", {"b": skipped, "c": skipped}) == st.SKIPPED


def climb_all(count: int, order: list[int], stray: int | None = None) -> list[int]:
    """Arrivals in ``order``, each climbing in turn; those that pass the root.

    ``order[stray]`` is the arrival of an attempt whose end lost to another
    attempt's: its first step rode in the batch of its final record, and it
    climbs no further whatever that insert gave.
    """
    taken: set[str] = set()
    passed = []
    for turn, index in enumerate(order):
        steps = jr.climb(index, count)
        for level, position in steps[:1] if turn == stray else steps:
            record_id = jr.arrival_id("join", 1, level, position)
            if record_id not in taken:
                taken.add(record_id)
                break
        else:
            if turn != stray:
                passed.append(index)
    return passed


def test_exactly_the_last_arrival_climbs_past_the_root_of_the_arrival_tree() -> None:
    rng = random.Random(7)
    for count in [1, 2, 3, 5, 8, 13, 64, 100, 998]:
        for _ in range(20):
            order = rng.sample(range(count), count)
            assert climb_all(count, order) == [order[-1]], count
    assert jr.climb(0, 1) == []  # alone: no tree, it is the last
    assert jr.climb(2, 3) == [(2, 0)]  # no sibling at level 1: straight to the next level
    assert len(jr.climb(0, 998)) == 10 and all(len(jr.climb(i, 998)) <= 10 for i in range(998))


def test_an_arrival_made_twice_lets_the_real_last_arrival_through_still() -> None:
    """Two attempts of one task both ending (a lease ran out) arrive twice: an extra climber may pass early,
    never none; the last arrival always passes the root (and the engine checks every upstream's end)."""
    rng = random.Random(11)
    for count in [2, 3, 7, 16, 50]:
        for _ in range(50):
            order = rng.sample(range(count), count)
            twice = rng.randrange(count)
            order.insert(rng.randrange(len(order) + 1), twice)
            first, second = (turn for turn, index in enumerate(order) if index == twice)
            stray = rng.choice([first, second])
            passed = climb_all(count, order, stray)
            last = max(turn for turn in range(len(order)) if turn != stray)
            assert order[last] in passed and 1 <= len(passed) <= 2, (count, order, stray, passed)
