"""A run's journal: the insert-only record of everything that happened to its tasks.

Each run has its own collection, ``journal.<run_id>``, and nothing in it is
ever updated: a task's state is *derived* from the records it has. This is
the shape FerretDB 1.x (on SQLite) is fast at and safe with:

- an insert with a unique ``_id`` is atomic and costs about a millisecond
  whatever the collection's size, and a batch of ten costs the same as one;
- an update scans the whole collection and is not atomic, so a shared
  ``tasks`` collection got slower with every run ever made and needed a
  guard insert beside each update anyway.

Every record id is deterministic, so inserting one *is* the decision it
names and exactly one process wins it:

``ready:<node>:<epoch>``
    the task became runnable (whoever inserts it queues or runs it);
``claim:<node>:<attempt>``
    an executor runs that attempt (attempts count on across epochs). A task
    *handed off* has no claim record of its own, nor a ready record: the
    executor that ended its upstream decided it ready and claimed it with
    that upstream's final record, whose ``handoff`` field names it
    (:func:`handoff_claim`); readers see it as a claim marked ``handoff``;
``retry:<node>:<attempt>``
    that attempt failed and the task waits for its next one;
``final:<node>:<epoch>``
    the task's end in this epoch: succeeded (with its outputs), failed,
    skipped, upstream_failed or canceled. Whoever inserts it settles what
    follows the task;
``arrive:<node>:<epoch>:<level>:<i>``
    a node of a join's arrival tree (see :func:`climb`); the arrival that
    climbs past its root decides the join;
``unusable:<node>:<epoch>``
    an upstream of the join reached it with nothing it can use (it failed,
    was skipped or lacks an output the join reads); inserted before that
    upstream's final record. Without it the join's last arrival decides it
    ready without reading every upstream's end;
``unclean:<run attempt>``
    a task of the run attempt ended other than succeeded; inserted before that
    task's final record. Without it the run's last sink ends the first run
    attempt as succeeded without deriving every task's state;
``log:<node>:<attempt>:<seq>``
    lines a running task wrote so far (saved by its executor's heartbeat);
``start:<run attempt>``, ``arrive:$end:<run attempt>:<level>:<i>``, ``end:<run attempt>``
    the run attempt's start, the arrival tree of its sink tasks, and its end.

The epoch of a task is the run attempt it last ran in (``retry`` moves the
failed tasks and what follows them to the next epoch; the others keep their
succeeded outputs).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flow_automation.engine import states as st
from flow_automation.flows.graph import FlowGraph
from flow_automation.flows.model import FlowDefinition, parse_reference

JOURNAL_PREFIX = "journal."
#: Node types that run when any one side of a branch reached them (a join).
LENIENT_TYPES = frozenset({"noop"})


def journal_name(run_id: str) -> str:
    return f"{JOURNAL_PREFIX}{run_id}"


def ready_id(node: str, epoch: int) -> str:
    return f"ready:{node}:{epoch}"


def claim_id(node: str, attempt: int) -> str:
    return f"claim:{node}:{attempt}"


def retry_id(node: str, attempt: int) -> str:
    return f"retry:{node}:{attempt}"


def final_id(node: str, epoch: int) -> str:
    return f"final:{node}:{epoch}"


def log_id(node: str, attempt: int, seq: int) -> str:
    return f"log:{node}:{attempt}:{seq}"


def unusable_id(node: str, epoch: int) -> str:
    return f"unusable:{node}:{epoch}"


def unclean_id(run_attempt: int) -> str:
    return f"unclean:{run_attempt}"


#: The arrival tree of a run attempt's sinks is the run's end ("$" is not allowed in node ids).
RUN_END = "$end"


def arrival_id(target: str, epoch: int, level: int, position: int) -> str:
    return f"arrive:{target}:{epoch}:{level}:{position}"


def climb(index: int, count: int) -> list[tuple[int, int]]:
    """The nodes of an arrival tree that arrival ``index`` of ``count`` contests, bottom up: (level, position).

    A join with ``count`` arriving upstreams (and a run end with ``count``
    sinks) has a binary tree over them, without a shared counter: each
    arrival inserts ``arrive:<target>:<epoch>:<level>:<position>`` for the
    tree nodes on its way up, one by one. The first of the two subtrees
    below a node to insert it stops there; the second finds it taken and
    climbs on for both. So exactly one arrival climbs past the root, the
    last one, and it decides the join. Where a subtree is empty (``count``
    not a power of two) there is nobody to wait for and the level is passed
    without an insert.

    The tree tolerates an arrival made twice (two attempts of a task whose
    lease ran out both ending): an extra climber may pass a node too early,
    but the last insert at every node still climbs on, so the arrival that
    really is the last still passes the root; whoever passes it checks that
    every upstream has ended before deciding.

    Against a shared counter (ticket ``n`` of ``n``) this is contention-free:
    four executors racing for the next number spent most of a wide fan-in
    searching for where the others got to, with reads that FerretDB answers
    by scanning the journal; here every step is one insert, batched with
    whatever else the process inserts.
    """
    steps = []
    level = 1
    while (1 << (level - 1)) < count:
        sibling = ((index >> (level - 1)) ^ 1) << (level - 1)
        if sibling < count:
            steps.append((level, index >> level))
        level += 1
    return steps


@dataclass(frozen=True)
class Link:
    """An edge seen from its upstream end: the downstream node and what it reads from this one."""

    node: str
    consumes: tuple[str, ...]


@dataclass(frozen=True)
class TaskSpec:
    node: str
    type: str
    deps: dict[str, tuple[str, ...]]  # upstream node -> the outputs this task reads from it
    downstream: tuple[Link, ...]
    lenient: bool
    spec: dict[str, Any]  # config, inputs, retries, retry_backoff_s, timeout_s, cache

    @property
    def retries(self) -> int:
        return int(self.spec.get("retries", 0))


@dataclass
class RunPlan:
    """What a run executes: its tasks, and for each task the epoch it is in and its attempts before that epoch."""

    run_id: str
    flow_id: str
    attempt: int
    tasks: dict[str, TaskSpec]
    epochs: dict[str, tuple[int, int]] = field(default_factory=dict)  # node -> (epoch, attempts before it)
    _waiting: dict[str, dict[str, int]] = field(default_factory=dict, repr=False)  # a plan never changes

    def epoch(self, node: str) -> int:
        return self.epochs.get(node, (1, 0))[0]

    def base_attempts(self, node: str) -> int:
        return self.epochs.get(node, (1, 0))[1]

    def waiting(self, node: str) -> int:
        """How many upstream tasks must arrive in this task's epoch before it is decided."""
        return len(self._arrivals_at(node))

    def arrival(self, target: str, upstream: str) -> tuple[str, int, int] | None:
        """Where ``upstream`` ending arrives at ``target`` (a join, or :data:`RUN_END` for a sink).

        (tree name, epoch, index among the arrivals); None when it does not
        count (an upstream of an earlier epoch than the join).
        """
        arrivals = self._arrivals_at(target)
        index = arrivals.get(upstream)
        if index is None:
            return None
        if target == RUN_END:
            return RUN_END, self.attempt, index
        return target, self.epoch(target), index

    def _arrivals_at(self, target: str) -> dict[str, int]:
        """The upstreams that arrive at ``target`` in its epoch, each with its index (counted once per plan)."""
        if target not in self._waiting:
            if target == RUN_END:
                ending = [node for node in self.sinks() if self.epoch(node) == self.attempt]
            else:
                epoch = self.epoch(target)
                ending = [dep for dep in self.tasks[target].deps if self.epoch(dep) == epoch]
            self._waiting[target] = {node: index for index, node in enumerate(ending)}
        return self._waiting[target]

    def sinks(self) -> list[str]:
        return [node for node, spec in self.tasks.items() if not spec.downstream]

    @classmethod
    def of_run(cls, run: dict[str, Any], tasks: dict[str, TaskSpec]) -> RunPlan:
        """The plan of ``run``, whose definition's tasks are ``tasks`` (:func:`task_specs`)."""
        epochs = {node: (int(value[0]), int(value[1])) for node, value in (run.get("epochs") or {}).items()}
        return cls(run["_id"], run["flow_id"], int(run.get("attempt", 1)), tasks, epochs)


def task_specs(definition: dict[str, Any]) -> dict[str, TaskSpec]:
    """The tasks of a stored definition. They are never changed once built, so runs of one definition may
    share them."""
    return build_specs(FlowDefinition.model_validate(definition))


def build_specs(flow: FlowDefinition) -> dict[str, TaskSpec]:
    """Each node's task: its dependencies with what it reads from each, and its downstream links."""
    graph = FlowGraph.of(flow)
    consumes: dict[str, dict[str, list[str]]] = {node.id: {} for node in flow.nodes}
    for node in flow.nodes:
        for upstream in graph.upstream[node.id]:
            consumes[node.id].setdefault(upstream, [])
        for reference in node.inputs.values():
            parsed = parse_reference(reference)
            if parsed and parsed[0] != "params" and parsed[0] in consumes[node.id]:
                consumes[node.id][parsed[0]].append(parsed[1])
    specs = {}
    for node in flow.nodes:
        specs[node.id] = TaskSpec(
            node=node.id,
            type=node.type,
            deps={up: tuple(consumes[node.id][up]) for up in graph.upstream[node.id]},
            downstream=tuple(Link(down, tuple(consumes[down][node.id])) for down in graph.downstream[node.id]),
            lenient=node.type in LENIENT_TYPES,
            spec=node.model_dump(
                mode="json", include={"config", "inputs", "retries", "retry_backoff_s", "timeout_s", "cache"}
            ),
        )
    return specs


# -- deriving task states ---------------------------------------------------------------


@dataclass
class TaskRecords:
    """The records of one task, sorted into what the derivation needs."""

    ready: dict[int, dict[str, Any]] = field(default_factory=dict)  # epoch -> record
    claims: dict[int, dict[str, Any]] = field(default_factory=dict)  # attempt -> record
    retries: dict[int, dict[str, Any]] = field(default_factory=dict)  # attempt -> record
    finals: dict[int, dict[str, Any]] = field(default_factory=dict)  # epoch -> record


def handoff_claim(final: dict[str, Any]) -> dict[str, Any] | None:
    """The claim a final record makes of the downstream task it handed off to, as a claim record would say it.

    Its ``_id`` is the one a claim record of that attempt would have: no
    other process claims that attempt, since only the handing-off executor
    decided the task ready (its one upstream in its epoch ended there, and it
    has no ready record or queue entry); healing sees it claimed through
    this, and takes it over like any claim when that executor's lease runs out.
    """
    handoff = final.get("handoff")
    if not handoff:
        return None
    node, epoch, attempt = handoff
    return {
        "_id": claim_id(node, attempt),
        "kind": "claim",
        "at": final["at"],
        "node": node,
        "epoch": epoch,
        "attempt": attempt,
        "executor": final.get("executor"),
        "handoff": True,
    }


def sort_records(records: list[dict[str, Any]]) -> dict[str, TaskRecords]:
    by_node: dict[str, TaskRecords] = {}
    for record in records:
        kind, node = record.get("kind"), record.get("node")
        if node is None:
            continue
        bucket = by_node.setdefault(node, TaskRecords())
        if kind == "ready":
            bucket.ready[record["epoch"]] = record
        elif kind == "claim":
            bucket.claims[record["attempt"]] = record
        elif kind == "retry":
            bucket.retries[record["attempt"]] = record
        elif kind == "final":
            bucket.finals[record["epoch"]] = record
            claim = handoff_claim(record)
            if claim is not None:
                # Journals written before handoffs were embedded hold claim records marked handoff instead.
                by_node.setdefault(claim["node"], TaskRecords()).claims.setdefault(claim["attempt"], claim)
    return by_node


def task_state(plan: RunPlan, node: str, records: TaskRecords | None) -> dict[str, Any]:
    """A task as the API shows it (and as the engine reasons about it), from its records."""
    spec = plan.tasks[node]
    epoch = plan.epoch(node)
    records = records or TaskRecords()
    final = records.finals.get(epoch)
    claims = sorted(records.claims.items())
    in_epoch = [(attempt, claim) for attempt, claim in claims if claim.get("epoch") == epoch]
    last_attempt, last_claim = in_epoch[-1] if in_epoch else (None, None)
    view: dict[str, Any] = {
        "node_id": node,
        "type": spec.type,
        "epoch": epoch,
        "attempts": max((attempt for attempt, _ in claims), default=plan.base_attempts(node)),
        "attempts_in_epoch": len(in_epoch),
        # Attempts that did not count against the task's retries (a dependency down, an executor lost):
        # each claim carries the count so far, each retry record the count for the next attempt.
        "transient_retries": int(last_claim.get("transient", 0)) if last_claim else 0,
        "started_at": last_claim["at"] if last_claim else None,
        "finished_at": None,
        "duration_ms": None,
        "error": None,
        "cached": False,
        "ready_at": records.ready[epoch]["at"] if epoch in records.ready else _handed_off_at(records, epoch),
        "executor": last_claim.get("executor") if last_claim else None,
        "claim_attempt": last_attempt,
        "upstream": list(spec.deps),
    }
    if final is not None:
        view.update(
            state=final["state"],
            finished_at=final["at"],
            duration_ms=final.get("duration_ms"),
            error=final.get("error"),
            cached=final.get("cached", False),
            output_keys=final.get("output_keys", []),
            preview=final.get("preview") or {},
        )
        if final.get("started_at") is not None:
            view["started_at"] = final["started_at"]
    elif last_attempt is not None and last_attempt in records.retries:
        retry = records.retries[last_attempt]
        view.update(state=st.RETRYING, error=retry.get("error"), ready_at=retry.get("due"))
        view["transient_retries"] = int(retry.get("transient_next", view["transient_retries"]))
    elif last_attempt is not None:
        view["state"] = st.RUNNING
    elif epoch in records.ready:
        view["state"] = st.READY
    else:
        view["state"] = st.PENDING
    view["history"] = history(records)
    return view


def _handed_off_at(records: TaskRecords, epoch: int) -> Any:
    """When a task handed off in ``epoch`` became ready: its handoff claim's time (None if not handed off)."""
    handed = [claim["at"] for claim in records.claims.values() if claim.get("handoff") and claim["epoch"] == epoch]
    return min(handed, default=None)


def history(records: TaskRecords) -> list[dict[str, Any]]:
    """Every state the task went through, oldest first."""
    entries: list[dict[str, Any]] = [
        {"state": st.READY, "at": record["at"], "epoch": record["epoch"]} for record in records.ready.values()
    ]
    entries += [
        {"state": st.READY, "at": claim["at"], "epoch": claim["epoch"]}
        for claim in records.claims.values()
        if claim.get("handoff") and claim["epoch"] not in records.ready
    ]
    for attempt, record in records.claims.items():
        if record.get("reason"):
            entries.append({"state": st.READY, "at": record["at"], "reason": record["reason"]})
        entries.append(
            {"state": st.RUNNING, "at": record["at"], "attempt": attempt, "executor": record.get("executor")}
        )
    for attempt, record in records.retries.items():
        entries.append(
            {
                "state": st.RETRYING,
                "at": record["at"],
                "attempt": attempt,
                "error": (record.get("error") or {}).get("message"),
            }
        )
    for record in records.finals.values():
        entry = {"state": record["state"], "at": record["at"], "epoch": record["epoch"]}
        if record.get("error"):
            entry["error"] = record["error"].get("message")
        entries.append(entry)
    entries.sort(key=lambda entry: entry["at"])
    return entries


def derive(plan: RunPlan, records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every task of the run, by node id."""
    by_node = sort_records(records)
    return {node: task_state(plan, node, by_node.get(node)) for node in plan.tasks}


def decide_from(plan: RunPlan, node: str, upstream_finals: dict[str, dict[str, Any]]) -> str:
    """What ``node`` becomes given the final records of its upstream tasks (all of them terminal)."""
    spec = plan.tasks[node]
    results = {dep: (final["state"], list(final.get("output_keys", []))) for dep, final in upstream_finals.items()}
    return st.decide(results, {dep: list(outputs) for dep, outputs in spec.deps.items()}, lenient=spec.lenient)
