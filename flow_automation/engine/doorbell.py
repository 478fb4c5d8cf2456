"""The task queue's doorbell: idle executors wake as soon as tasks are queued.

Executors poll ``task_queue`` with a growing wait when it is empty (up to
``DATAFLOW_EXECUTOR_POLL_S``), so a run started on an idle platform would
wait on average half that wait for its first claim. Whoever queues tasks
that are due now also sends a tiny message to ``dataflow.task-queue-doorbell``
(:meth:`EventPublisher.ring_doorbell`, after the queue insert); every
executor reads that topic from its end, without a consumer group (each one
sees every ring), and a ring makes it claim at once. The doorbell is only a
hint: a lost ring or Kafka being down costs the poll interval, nothing more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from kafka import TopicPartition

from common.kafka import create_consumer
from common.settings import Settings
from flow_automation.engine.events import DOORBELL_TOPIC

log = logging.getLogger(__name__)


class DoorbellListener:
    """Calls ``on_ring`` (from its own thread) with the ids of the runs whose tasks were just queued."""

    def __init__(self, settings: Settings, on_ring: Callable[[list[str]], None]) -> None:
        self.settings = settings
        self.on_ring = on_ring
        self.listening = threading.Event()  # set once it reads from the topic's end
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="doorbell", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()

    def _listen(self) -> None:
        while not self._stopped.is_set():
            consumer = None
            try:
                consumer = create_consumer(self.settings, group_id=None, fetch_max_wait_ms=500)
                partition = TopicPartition(DOORBELL_TOPIC, 0)
                consumer.assign([partition])
                consumer.seek_to_end(partition)
                consumer.position(partition)  # resolves the end offset now
                self.listening.set()
                while not self._stopped.is_set():
                    batches = consumer.poll(timeout_ms=1000, max_records=500)
                    if batches:
                        self.on_ring([r.value.decode(errors="replace") for rs in batches.values() for r in rs])
            except Exception as exc:  # noqa: BLE001 - the doorbell is a hint; the queue is still polled
                log.warning("task queue doorbell unavailable, relying on polling: %s", exc)
                self._stopped.wait(5.0)
            finally:
                if consumer is not None:
                    try:
                        consumer.close(autocommit=False)
                    except Exception:  # closing a consumer that failed
                        log.debug("closing the doorbell consumer failed", exc_info=True)
