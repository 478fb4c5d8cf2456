"""Kafka triggers and ``dataflow.triggers``: one run per message, at least once, deduplicated.

Every flow_automation replica runs the same consumers, each a background
thread (kafka-python blocks; nothing here runs on the event loop except the
run creation, handed to the loop with ``run_coroutine_threadsafe``):

- one per enabled Kafka trigger, in the trigger's consumer group (default
  ``dataflow.trigger.<flow>``). A watcher re-reads the flows' trigger state
  from MongoDB every ``WATCH_INTERVAL_S``, so a save on any replica starts or
  stops consumers on all of them; the group shares the partitions among them.
- one on ``dataflow.triggers`` in the group ``dataflow.orchestrator.triggers``
  (suffixed with the database name when it is not ``dataflow``: deployments,
  or test sessions, that share a broker but not a database must not take each
  other's requests).

A message is committed only after its run exists (or after it was judged
unusable), so a crash redelivers it; the run's dedupe key makes the
redelivery return the first run instead of starting a second. A message that
can never start a run (not JSON, bad params, unknown flow) is logged at
warning level, counted in the trigger state (``skipped``, ``last_skipped``)
and committed: it never blocks its partition. A transient failure (MongoDB or
Kafka down) leaves the message uncommitted and retries it with backoff.

Offsets: a new Kafka trigger starts at the end of its topic (it reacts to
messages published after it became ``active``, not to the topic's history);
its first position is committed at once, so later restarts resume there.
``dataflow.triggers`` starts at the earliest retained message: every request
on it is addressed to the orchestrator and none may be lost.

Topics: a trigger never creates its topic (the code that owns a topic creates
it). While the topic is missing the trigger shows ``status: "error"`` with
"topic does not exist" and the consumer checks again every few seconds.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.structs import OffsetAndMetadata

from common.errors import DataflowError, DependencyUnavailable
from common.kafka import create_consumer
from common.retry import TRANSIENT_ERRORS
from common.settings import Settings
from flow_automation.engine.events import TRIGGERS_TOPIC
from flow_automation.triggers.messages import (
    BadMessage,
    decode_json,
    kafka_dedupe_key,
    merge_params,
    message_params,
    trigger_request,
)

if TYPE_CHECKING:
    from flow_automation.app import FlowAutomationApp

log = logging.getLogger(__name__)

WATCH_INTERVAL_S = 3.0
POLL_TIMEOUT_MS = 500
MAX_RECORDS = 100
MISSING_TOPIC_RETRY_S = 5.0
RUN_TIMEOUT_S = 60.0
MAX_BACKOFF_S = 30.0
ORCHESTRATOR_GROUP = "dataflow.orchestrator.triggers"
DEFAULT_DATABASE = "dataflow"

STARTING, ACTIVE, ERROR, DISABLED = "starting", "active", "error", "disabled"


def default_group(flow_id: str) -> str:
    return f"dataflow.trigger.{flow_id}"


def orchestrator_group(database: str) -> str:
    return ORCHESTRATOR_GROUP if database == DEFAULT_DATABASE else f"{ORCHESTRATOR_GROUP}.{database}"


class TriggerChanged(Exception):
    """The flow's trigger moved or changed while a message was in hand: retry it after the watcher catches up."""


@dataclass(frozen=True)
class Subscription:
    """What one consumer thread reads: a topic in a group, for one trigger (or for ``dataflow.triggers``)."""

    topic: str
    group: str
    flow_id: str | None = None
    index: int = -1
    dedupe_field: str | None = None


Handler = Callable[[ConsumerRecord], Awaitable[None]]
Reporter = Callable[[str, str | None], Awaitable[None]]
SkipReporter = Callable[[str], Awaitable[None]]


class TopicConsumer(threading.Thread):
    """Consumes one subscription until stopped; each message goes to ``handle`` on the event loop."""

    def __init__(
        self,
        *,
        settings: Settings,
        subscription: Subscription,
        loop: asyncio.AbstractEventLoop,
        handle: Handler,
        report: Reporter | None = None,
        report_skip: SkipReporter | None = None,
        offset_reset: str = "latest",
    ) -> None:
        super().__init__(name=f"trigger:{subscription.topic}", daemon=True)
        self.settings = settings
        self.subscription = subscription
        self.loop = loop
        self.handle = handle
        self.report = report
        self.report_skip = report_skip
        self.offset_reset = offset_reset
        self.stopping = threading.Event()
        self._reported: tuple[str, str | None] | None = None
        self._backoff = 1.0

    def run(self) -> None:
        delay = 1.0
        while not self.stopping.is_set():
            try:
                self._consume()
                delay = 1.0
            except Exception as exc:  # noqa: BLE001 - the consumer restarts; commits make this safe
                log.warning("trigger consumer of %r restarts in %.0fs: %s", self.subscription.topic, delay, exc)
                self.stopping.wait(delay)
                delay = min(delay * 2, MAX_BACKOFF_S)

    def _consume(self) -> None:
        topic = self.subscription.topic
        consumer = create_consumer(
            self.settings,
            group_id=self.subscription.group,
            auto_offset_reset=self.offset_reset,
            allow_auto_create_topics=False,
            max_poll_records=MAX_RECORDS,
        )
        try:
            if topic not in consumer.topics():
                self._status(ERROR, "topic does not exist; create it (a trigger never creates topics)")
                self.stopping.wait(MISSING_TOPIC_RETRY_S)
                return
            consumer.subscribe([topic])
            settled: set[TopicPartition] = set()
            while not self.stopping.is_set():
                batches = consumer.poll(timeout_ms=POLL_TIMEOUT_MS)
                settled = self._settle(consumer, batches, settled)
                for partition, records in batches.items():
                    self._process(consumer, partition, records)
        finally:
            consumer.close(autocommit=False)

    def _settle(
        self, consumer: KafkaConsumer, batches: dict[TopicPartition, list[Any]], settled: set[TopicPartition]
    ) -> set[TopicPartition]:
        """Commit a first position for newly assigned partitions that have none; report active once assigned."""
        assigned = set(consumer.assignment())
        fresh = assigned - settled
        first: dict[TopicPartition, OffsetAndMetadata] = {}
        for partition in fresh:
            if consumer.committed(partition) is None:
                records = batches.get(partition)
                start = records[0].offset if records else consumer.position(partition)
                first[partition] = OffsetAndMetadata(start, "", -1)
        if first:
            consumer.commit(first)
        if assigned:
            self._status(ACTIVE, None)
        return assigned

    def _process(self, consumer: KafkaConsumer, partition: TopicPartition, records: list[Any]) -> None:
        for record in records:
            if self.stopping.is_set():
                return
            if not self._handled(record):
                consumer.seek(partition, record.offset)
                self.stopping.wait(self._backoff)
                self._backoff = min(self._backoff * 2, MAX_BACKOFF_S)
                return
            self._backoff = 1.0
            consumer.commit({partition: OffsetAndMetadata(record.offset + 1, "", -1)})

    def _handled(self, record: Any) -> bool:
        """True when the message is done with (run created, or skipped for good); False to retry it."""
        where = f"{record.topic}:{record.partition}:{record.offset}"
        future = asyncio.run_coroutine_threadsafe(self.handle(record), self.loop)
        try:
            future.result(timeout=RUN_TIMEOUT_S)
            return True
        except concurrent.futures.CancelledError:
            return False  # the service is stopping; the message stays uncommitted
        except (DependencyUnavailable, TriggerChanged, TimeoutError, *TRANSIENT_ERRORS) as exc:
            future.cancel()
            log.warning("trigger message %s not started yet, retrying: %s", where, exc)
            return False
        except (BadMessage, DataflowError) as exc:
            reason = _reason(exc)
        except Exception as exc:  # a message must never block its partition
            log.warning("trigger message %s failed unexpectedly", where, exc_info=True)
            reason = f"unexpected failure: {type(exc).__name__}"
        log.warning("trigger message %s skipped: %s", where, reason)
        if self.report_skip is not None:
            self._call(self.report_skip(f"{where}: {reason}"))
        return True

    def _status(self, status: str, message: str | None) -> None:
        if self.report is None or self._reported == (status, message):
            return
        if self._call(self.report(status, message)):
            self._reported = (status, message)

    def _call(self, coroutine: Awaitable[None]) -> bool:
        try:
            asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=RUN_TIMEOUT_S)  # type: ignore[arg-type]
            return True
        except Exception as exc:  # noqa: BLE001 - state reporting is best effort, retried on the next change
            log.warning("trigger state of %r not recorded: %s", self.subscription.topic, exc)
            return False


def _reason(exc: BaseException) -> str:
    if isinstance(exc, DataflowError):
        errors = exc.details.get("errors") if isinstance(exc.details, dict) else None
        fields = [f"{e.get('field')}: {e.get('message')}" for e in errors or [] if isinstance(e, dict)]
        return f"{exc.message}{' (' + '; '.join(fields) + ')' if fields else ''}"[:500]
    return str(exc)[:500]


class KafkaTriggers:
    """The consumer threads of this replica, kept in line with the flows' Kafka triggers."""

    def __init__(self, app: FlowAutomationApp) -> None:
        self.app = app
        self.workers: dict[Subscription, TopicConsumer] = {}
        self._retired: list[TopicConsumer] = []
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        if self._task is not None:
            return
        self._loop = asyncio.get_running_loop()
        requests = Subscription(topic=TRIGGERS_TOPIC, group=orchestrator_group(self.app.db.name))
        self._launch(
            TopicConsumer(
                settings=self.app.config,
                subscription=requests,
                loop=self._loop,
                handle=self._start_requested_run,
                offset_reset="earliest",
            )
        )
        self._task = self._loop.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None
        threads = [*self.workers.values(), *self._retired]
        self.workers.clear()
        self._retired.clear()
        for thread in threads:
            thread.stopping.set()
        await asyncio.to_thread(_join_all, threads, 15.0)

    def _launch(self, consumer: TopicConsumer) -> None:
        self.workers[consumer.subscription] = consumer
        consumer.start()

    async def _watch(self) -> None:
        while True:
            try:
                self._apply(await self.wanted())
            except Exception as exc:  # noqa: BLE001 - MongoDB may be down; the next round retries
                log.warning("Kafka trigger watch failed, retrying: %s", exc)
            await asyncio.sleep(WATCH_INTERVAL_S)

    async def wanted(self) -> set[Subscription]:
        """The enabled Kafka triggers of every flow, from the flows' trigger state."""
        wanted = set()
        flows = await self.app.flows.flows.find({"trigger_state.type": "kafka"}, {"trigger_state": 1}).to_list()
        for flow in flows:
            for index, entry in enumerate(flow.get("trigger_state") or []):
                if entry.get("type") == "kafka" and entry.get("status") != DISABLED:
                    wanted.add(
                        Subscription(
                            topic=entry["topic"],
                            group=entry["group"],
                            flow_id=flow["_id"],
                            index=index,
                            dedupe_field=entry.get("dedupe_key"),
                        )
                    )
        return wanted

    def _apply(self, wanted: set[Subscription]) -> None:
        assert self._loop is not None
        self._retired = [thread for thread in self._retired if thread.is_alive()]
        for subscription in list(self.workers):
            if subscription.flow_id is not None and subscription not in wanted:
                retired = self.workers.pop(subscription)
                retired.stopping.set()
                self._retired.append(retired)
        for subscription in wanted - set(self.workers):
            self._launch(
                TopicConsumer(
                    settings=self.app.config,
                    subscription=subscription,
                    loop=self._loop,
                    handle=lambda record, s=subscription: self._start_triggered_run(s, record),
                    report=lambda status, message, s=subscription: self._report(s, status, message),
                    report_skip=lambda reason, s=subscription: self._report_skip(s, reason),
                )
            )

    # -- on the event loop ------------------------------------------------------------

    async def _start_triggered_run(self, subscription: Subscription, record: Any) -> None:
        flow_id = subscription.flow_id
        assert flow_id is not None
        payload = decode_json(record.value)
        definition, version = await self.app.flows.definition(flow_id)
        triggers = definition.triggers
        trigger = triggers[subscription.index] if subscription.index < len(triggers) else None
        if trigger is None or trigger.type != "kafka" or trigger.topic != subscription.topic:
            raise TriggerChanged(f"trigger {subscription.index} of flow {flow_id!r} changed")
        key = kafka_dedupe_key(
            flow_id,
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            payload=payload,
            dedupe_field=subscription.dedupe_field,
        )
        await self.app.engine.create_run(
            flow_id,
            params=merge_params(trigger.params, message_params(payload)),
            version=version,
            trigger={
                "type": "kafka",
                "index": subscription.index,
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
            },
            dedupe_key=key,
        )

    async def _start_requested_run(self, record: Any) -> None:
        request = trigger_request(decode_json(record.value), partition=record.partition, offset=record.offset)
        await self.app.engine.create_run(
            request.flow_id,
            params=request.params,
            version=request.version,
            trigger={"type": "event", "topic": record.topic, "partition": record.partition, "offset": record.offset},
            dedupe_key=request.dedupe_key,
        )

    def _entry_filter(self, subscription: Subscription) -> dict[str, Any]:
        prefix = f"trigger_state.{subscription.index}"
        return {
            "_id": subscription.flow_id,
            f"{prefix}.type": "kafka",
            f"{prefix}.topic": subscription.topic,
            f"{prefix}.group": subscription.group,
        }

    async def _report(self, subscription: Subscription, status: str, message: str | None) -> None:
        prefix = f"trigger_state.{subscription.index}"
        await self.app.flows.flows.update_one(
            self._entry_filter(subscription), {"$set": {f"{prefix}.status": status, f"{prefix}.message": message}}
        )

    async def _report_skip(self, subscription: Subscription, reason: str) -> None:
        prefix = f"trigger_state.{subscription.index}"
        await self.app.flows.flows.update_one(
            self._entry_filter(subscription),
            {"$inc": {f"{prefix}.skipped": 1}, "$set": {f"{prefix}.last_skipped": reason}},
        )


def _join_all(threads: list[TopicConsumer], timeout_s: float) -> None:
    for thread in threads:
        thread.join(timeout=timeout_s)
