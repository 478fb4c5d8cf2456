"""``/api/v1/runs``: run history, one run with its tasks, logs, live events, cancel and retry.

``GET /api/v1/runs/{id}/events`` is a Server-Sent Events stream of the run's
state changes, read from its partition of ``dataflow.flow-events``. Each
event's ``id`` is its Kafka offset, so a client that reconnects with
``Last-Event-ID`` (EventSource does this by itself) continues after the last
event it saw, with nothing lost and nothing repeated. The stream ends after
the run's final state.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import TYPE_CHECKING, Any, Literal

from kafka import KafkaConsumer, TopicPartition
from pydantic import BaseModel, Field
from tornado.iostream import StreamClosedError

from common.errors import InvalidArgument, NotFound
from common.pagination import PageQuery, decode_cursor, encode_cursor
from common.scopes import FLOWS_READ, FLOWS_RUN
from common.web import ApiHandler, endpoint
from common.web.handlers import dumps
from flow_automation.engine import journal
from flow_automation.engine import states as st
from flow_automation.engine.events import FLOW_EVENTS_TOPIC
from flow_automation.engine.outputs import preview_view

if TYPE_CHECKING:
    from flow_automation.app import FlowAutomationApp

log = logging.getLogger(__name__)

KEEPALIVE_S = 15.0
TASK_FIELDS = (
    "node_id",
    "type",
    "state",
    "attempts",
    "started_at",
    "finished_at",
    "duration_ms",
    "error",
    "cached",
    "ready_at",
)


class RunListQuery(PageQuery):
    flow: str | None = Field(None, description="only runs of this flow")
    state: Literal[st.RUN_STATES] | None = None  # type: ignore[valid-type]


class LogQuery(BaseModel):
    format: Literal["json", "text"] = "json"


def run_view(run: dict[str, Any], tasks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    view = {
        "id": run["_id"],
        "run_id": run["_id"],
        "flow_id": run["flow_id"],
        "version": run["version"],
        "state": run["state"],
        "params": run.get("params", {}),
        "trigger": run.get("trigger"),
        "created_by": run.get("created_by"),
        "created_at": run.get("created_at"),
        "started_at": run.get("started_at"),
        "finished_at": run.get("finished_at"),
        "attempt": run.get("attempt", 1),
        "parent": run.get("parent"),
        "scheduled_time": run.get("scheduled_time"),
        "cancel_requested": run.get("cancel_requested", False),
        "task_counts": run.get("task_counts"),
    }
    if tasks is not None:
        view["tasks"] = [task_view(task) for task in tasks]
    return view


def task_view(task: dict[str, Any]) -> dict[str, Any]:
    view = {name: task.get(name) for name in TASK_FIELDS}
    view["attempts"] = task.get("attempts", 0)
    view["outputs"] = {name: preview_view(stored) for name, stored in (task.get("preview") or {}).items()}
    view["upstream"] = task.get("upstream", [])
    view["history"] = task.get("history", [])
    return view


async def full_view(app: FlowAutomationApp, run: dict[str, Any]) -> dict[str, Any]:
    """A run with its tasks (without their stored outputs and logs), derived from its journal."""
    plan, tasks = await app.engine.task_states(run, previews=True)
    return run_view(run, [tasks[node] for node in plan.tasks])


class RunsHandler(ApiHandler):
    application: FlowAutomationApp

    @endpoint(scopes=[FLOWS_READ], summary="Runs, newest first, filtered by flow and state", query=RunListQuery)
    async def get(self, *, query: RunListQuery) -> dict[str, Any]:
        selector: dict[str, Any] = {}
        if query.flow:
            selector["flow_id"] = query.flow
        if query.state:
            selector["state"] = query.state
        if query.cursor:
            selector["_id"] = {"$lt": decode_cursor(query.cursor)}
        runs = await self.application.engine.runs.find(selector).sort("_id", -1).limit(query.limit + 1).to_list()
        next_cursor = encode_cursor(runs[query.limit - 1]["_id"]) if len(runs) > query.limit else None
        return {"items": [run_view(run) for run in runs[: query.limit]], "next_cursor": next_cursor}


class RunHandler(ApiHandler):
    application: FlowAutomationApp

    @endpoint(scopes=[FLOWS_READ], summary="A run with every task's state, attempts, timings, error and outputs")
    async def get(self, run_id: str) -> dict[str, Any]:
        return await full_view(self.application, await self.application.engine.get_run(run_id))


class RunCancelHandler(ApiHandler):
    application: FlowAutomationApp

    @endpoint(
        scopes=[FLOWS_RUN],
        summary="Cancel a run (running tasks stop at their next check)",
        audit="run.cancel",
        errors=(404, 409),
    )
    async def post(self, run_id: str) -> dict[str, Any]:
        return await full_view(self.application, await self.application.engine.cancel(run_id))


class RunRetryHandler(ApiHandler):
    application: FlowAutomationApp

    @endpoint(
        scopes=[FLOWS_RUN],
        summary="Re-run failed tasks and what follows them, reusing succeeded outputs",
        audit="run.retry",
        errors=(404, 409),
    )
    async def post(self, run_id: str) -> dict[str, Any]:
        actor = self.principal.subject if self.principal else None
        return await full_view(self.application, await self.application.engine.retry(run_id, actor=actor))


class TaskLogsHandler(ApiHandler):
    application: FlowAutomationApp

    @endpoint(
        scopes=[FLOWS_READ],
        summary="A task's log: what the node wrote, and the traceback of a failure",
        query=LogQuery,
        errors=(404,),
    )
    async def get(self, run_id: str, node_id: str, *, query: LogQuery) -> dict[str, Any] | None:
        engine = self.application.engine
        run = await engine.get_run(run_id)
        plan = await engine.plan(run_id, int(run.get("attempt", 1)))
        if node_id not in plan.tasks:
            raise NotFound("task", f"{run_id}/{node_id}")
        # The task's records, and the final record of the upstream that handed it off (its claim).
        records = await engine.journal(run_id).find({"$or": [{"node": node_id}, {"handoff": node_id}]}).to_list()
        task = journal.task_state(plan, node_id, journal.sort_records(records).get(node_id))
        lines = await task_log_lines(engine, run_id, node_id, task, records)
        if query.format == "text":
            self.set_header("Content-Type", "text/plain; charset=utf-8")
            self.finish("\n".join(lines) + ("\n" if lines else ""))
            return None
        return {
            "run_id": run_id,
            "node_id": node_id,
            "state": task["state"],
            "attempt": task.get("attempts", 0),
            "error": task.get("error"),
            "lines": lines,
        }


async def task_log_lines(
    engine: Any, run_id: str, node_id: str, task: dict[str, Any], records: list[dict[str, Any]]
) -> list[str]:
    """The latest attempt's log: from its end (or failed-attempt) record, or the chunks saved while it runs."""
    attempt = task.get("claim_attempt")
    if attempt is None:
        return []
    for kind in ("final", "retry"):
        for doc in records:
            if (
                doc.get("kind") == kind
                and doc.get("node") == node_id
                and doc.get("attempt") == attempt
                and "logs" in doc
            ):
                return list(doc["logs"])
    chunks = sorted(
        (doc for doc in records if doc.get("kind") == "log" and doc["_id"].startswith(f"log:{node_id}:{attempt}:")),
        key=lambda doc: int(doc["_id"].rsplit(":", 1)[1]),
    )
    return [line for chunk in chunks for line in chunk.get("lines", [])]


class RunEventsHandler(ApiHandler):
    """Server-Sent Events: ``id`` = Kafka offset, ``event`` = run or task, ``data`` = the JSON event."""

    application: FlowAutomationApp

    @endpoint(
        scopes=[FLOWS_READ],
        summary="Live run events (Server-Sent Events, resumable with Last-Event-ID)",
        response_type="text/event-stream",
        errors=(404,),
    )
    async def get(self, run_id: str) -> None:
        run = await self.application.engine.get_run(run_id)
        position = run.get("events") or {}
        start = int(position.get("offset", 0))
        last_id = self.request.headers.get("Last-Event-ID") or self.get_query_argument("last_event_id", None)
        if last_id:
            if not last_id.isdigit():
                raise InvalidArgument("Last-Event-ID must be an event id this stream sent")
            start = int(last_id) + 1
        self.set_header("Content-Type", "text/event-stream; charset=utf-8")
        self.set_header("X-Accel-Buffering", "no")
        self.set_status(200)
        consumer = await asyncio.to_thread(self._consumer, int(position.get("partition", 0)), start)
        try:
            await self._stream(run_id, consumer)
        except StreamClosedError:
            pass  # the client went away
        except (Exception, asyncio.CancelledError) as exc:  # noqa: BLE001 - the headers are out: end the stream
            # Kafka lost, or the service stopping: the client reconnects with Last-Event-ID and misses nothing.
            log.info("event stream of run %s ended early: %r", run_id, exc)
        finally:
            await asyncio.to_thread(consumer.close)
        if not self._finished:
            with contextlib.suppress(StreamClosedError):
                self.finish()

    def _consumer(self, partition: int, start: int) -> KafkaConsumer:
        settings = self.application.config
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=max(settings.kafka_timeout_ms * 6, 30000),
        )
        topic_partition = TopicPartition(FLOW_EVENTS_TOPIC, partition)
        consumer.assign([topic_partition])
        earliest = consumer.beginning_offsets([topic_partition])[topic_partition]
        consumer.seek(topic_partition, max(start, earliest))
        consumer._dataflow_gap = start < earliest  # type: ignore[attr-defined]
        return consumer

    async def _stream(self, run_id: str, consumer: KafkaConsumer) -> None:
        if getattr(consumer, "_dataflow_gap", False):
            # Older events are past the topic's retention: send the run as it stands instead.
            await self._send("snapshot", None, await self._snapshot(run_id))
        self.write(": connected\n\n")
        await self.flush()
        quiet = 0.0
        key = run_id.encode()
        while True:
            batches = await asyncio.to_thread(consumer.poll, 500, 500)
            sent = False
            for records in batches.values():
                for record in records:
                    if record.key != key:
                        continue
                    event = json.loads(record.value)
                    await self._send(event.get("kind", "message"), record.offset, event)
                    sent = True
                    if (
                        event.get("kind") == "run"
                        and event.get("state") in st.RUN_TERMINAL
                        and await self._ended(run_id, event.get("attempt", 1))
                    ):
                        return
            quiet = 0.0 if sent else quiet + 0.5
            if quiet >= KEEPALIVE_S:
                quiet = 0.0
                self.write(": keepalive\n\n")
                await self.flush()

    async def _ended(self, run_id: str, attempt: int) -> bool:
        """The final event of the run's latest attempt was sent (a retried run goes on after its first end).

        The event is published before the run document records the end, so
        the event's attempt is what counts, not the document's state.
        """
        run = await self.application.engine.runs.find_one({"_id": run_id}, {"attempt": 1})
        return run is None or attempt >= run.get("attempt", 1)

    async def _snapshot(self, run_id: str) -> dict[str, Any]:
        return await full_view(self.application, await self.application.engine.get_run(run_id))

    async def _send(self, event: str, offset: int | None, data: Any) -> None:
        lines = [f"event: {event}"]
        if offset is not None:
            lines.insert(0, f"id: {offset}")
        lines.append(f"data: {dumps(data)}")
        self.write("\n".join(lines) + "\n\n")
        await self.flush()
