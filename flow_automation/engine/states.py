"""Run and task states, and the one rule that decides what a task does once its upstream is settled."""

from __future__ import annotations

from collections.abc import Mapping

QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED = "queued", "running", "succeeded", "failed", "canceled"
RUN_STATES = (QUEUED, RUNNING, SUCCEEDED, FAILED, CANCELED)
RUN_TERMINAL = frozenset({SUCCEEDED, FAILED, CANCELED})
RUN_ACTIVE = (QUEUED, RUNNING)

PENDING, READY, RETRYING, SKIPPED, UPSTREAM_FAILED = "pending", "ready", "retrying", "skipped", "upstream_failed"
TASK_STATES = (PENDING, READY, RUNNING, RETRYING, SUCCEEDED, FAILED, SKIPPED, UPSTREAM_FAILED, CANCELED)
TASK_TERMINAL = frozenset({SUCCEEDED, FAILED, SKIPPED, UPSTREAM_FAILED, CANCELED})
TASK_WAITING = (PENDING, READY, RETRYING)


def decide(upstream: Mapping[str, tuple[str, list[str]]], consumes: Mapping[str, list[str]], *, lenient: bool) -> str:
    """What a task becomes when all its upstream tasks are terminal: ready, skipped, upstream_failed or canceled.

    ``upstream`` maps each upstream node to its (state, outputs it produced);
    ``consumes`` maps it to the outputs this task reads from it. A failure
    upstream fails this task's chance to run (``upstream_failed``); a skipped
    upstream, or a conditional output that was not produced (the untaken side
    of a ``branch``), skips it. A *lenient* task (``noop``, the join of branches)
    runs when at least one upstream succeeded with what it reads, and is
    skipped only when every side was skipped.
    """
    states = [state for state, _ in upstream.values()]
    if any(state in (FAILED, UPSTREAM_FAILED) for state in states):
        return UPSTREAM_FAILED
    if any(state == CANCELED for state in states):
        return CANCELED
    usable = [
        node
        for node, (state, produced) in upstream.items()
        if state == SUCCEEDED and all(output in produced for output in consumes.get(node, []))
    ]
    if len(usable) == len(upstream):
        return READY
    if lenient and usable:
        return READY
    return SKIPPED
