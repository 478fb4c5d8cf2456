"""``python -m stream_pipeline.worker``: runs every started pipeline; start as many as you like.

A worker reads the pipeline definitions from MongoDB every
``DATAFLOW_STREAM_RECONCILE_INTERVAL_S`` and keeps one
:class:`~stream_pipeline.runner.PipelineRunner` thread per running pipeline:
it starts runners for started pipelines, hands a newer version to its runner
(hot reload, no restart), and stops runners of stopped or deleted pipelines.
Each runner joins its pipeline's consumer group, so partitions spread over
all workers and move when one joins or dies (after the session timeout).

Every ``DATAFLOW_STREAM_STATUS_INTERVAL_S`` the worker writes one heartbeat
per runner (partitions, counters, rates, last error) that the API's status
endpoint aggregates. SIGTERM or SIGINT: runners finish their batch, commit,
leave their groups, and the process exits.
"""

from __future__ import annotations

import argparse
import faulthandler
import fnmatch
import logging
import os
import signal
import socket
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from pymongo import MongoClient
from pymongo.errors import PyMongoError

from common.logging import configure_logging
from common.settings import Settings, get_settings
from stream_pipeline.constants import PIPELINES_COLLECTION, WORKER_SERVICE, WORKER_STATUS_COLLECTION
from stream_pipeline.models import Pipeline, PipelineState, pipeline_from_document
from stream_pipeline.runner import PipelineRunner
from stream_pipeline.settings import StreamSettings, get_stream_settings

log = logging.getLogger(__name__)

STOP_GRACE_S = 20.0
STUCK_AFTER_S = 180.0  # a runner whose loop has not turned for this long is replaced


class Worker:
    def __init__(
        self, settings: Settings, stream_settings: StreamSettings, worker_id: str, patterns: list[str] | None = None
    ) -> None:
        self.settings = settings
        self.patterns = patterns or [part.strip() for part in stream_settings.pipelines.split(",") if part.strip()]
        self.stream_settings = stream_settings
        self.worker_id = worker_id
        self.mongo: MongoClient[dict[str, Any]] = MongoClient(
            settings.mongo_uri,
            serverSelectionTimeoutMS=settings.mongo_timeout_ms,
            connectTimeoutMS=settings.mongo_timeout_ms,
            appname=f"dataflow-stream-worker-{worker_id}",
            tz_aware=True,
        )
        self.db = self.mongo.get_default_database(default="dataflow")
        self.runners: dict[str, PipelineRunner] = {}
        self.stop_requested = False
        self.invalid: dict[str, int] = {}  # pipeline id -> version that failed to load (logged once)
        self._last_counts: dict[str, tuple[float, int, int, int]] = {}

    # -- reconciliation ------------------------------------------------------------------------

    def running_pipelines(self) -> dict[str, Pipeline]:
        pipelines = {}
        for document in self.db[PIPELINES_COLLECTION].find({"state": PipelineState.running.value}):
            if not any(fnmatch.fnmatchcase(document["_id"], pattern) for pattern in self.patterns):
                continue
            try:
                pipelines[document["_id"]] = pipeline_from_document(document)
            except (ValidationError, ValueError, KeyError) as exc:
                if self.invalid.get(document["_id"]) != document.get("version"):
                    self.invalid[document["_id"]] = document.get("version", -1)
                    log.warning("pipeline %s cannot be loaded: %s", document["_id"], exc)
        return pipelines

    def reconcile(self) -> None:
        wanted = self.running_pipelines()
        for pipeline_id, pipeline in wanted.items():
            runner = self.runners.get(pipeline_id)
            if runner is not None and runner.stuck_for() > STUCK_AFTER_S:
                log.warning(
                    "pipeline %s: its runner made no progress for %.0fs; replacing it",
                    pipeline_id,
                    runner.stuck_for(),
                    extra={"pipeline": pipeline_id},
                )
                runner.stop()  # a daemon thread: if it ever wakes up, it stops
                runner = None
            if runner is None or not runner.is_alive():
                runner = PipelineRunner(
                    pipeline, settings=self.settings, stream_settings=self.stream_settings, worker_id=self.worker_id
                )
                self.runners[pipeline_id] = runner
                runner.start()
            elif pipeline.version != runner.pipeline.version:
                runner.update(pipeline)
        for pipeline_id in [pipeline_id for pipeline_id in self.runners if pipeline_id not in wanted]:
            self.retire(pipeline_id)

    def retire(self, pipeline_id: str) -> None:
        runner = self.runners.pop(pipeline_id)
        runner.stop()
        runner.join(STOP_GRACE_S)
        self._last_counts.pop(pipeline_id, None)
        try:
            self.db[WORKER_STATUS_COLLECTION].delete_one({"_id": f"{pipeline_id}/{self.worker_id}"})
        except PyMongoError as exc:
            log.warning("could not remove the heartbeat of %s: %s", pipeline_id, exc)
        log.info("pipeline %s stopped on this worker", pipeline_id, extra={"pipeline": pipeline_id})

    # -- heartbeats ------------------------------------------------------------------------------

    def heartbeat(self, pipeline_id: str, runner: PipelineRunner) -> dict[str, Any]:
        stats = runner.stats
        now = time.monotonic()
        counts = (stats.messages_in, stats.messages_out, stats.dead_letters)
        previous = self._last_counts.get(pipeline_id)
        self._last_counts[pipeline_id] = (now, *counts)
        rates = [0.0, 0.0, 0.0]
        if previous is not None and now > previous[0]:
            rates = [
                max(0, count - before) / (now - previous[0]) for count, before in zip(counts, previous[1:], strict=True)
            ]
        partitions = []
        for (topic, partition), entry in sorted(dict(stats.partitions).items()):
            position, end = entry.get("position"), entry.get("end")
            partitions.append(
                {
                    "topic": topic,
                    "partition": partition,
                    "position": position,
                    "committed": entry.get("committed"),
                    "end_offset": end,
                    "lag": max(0, end - position) if end is not None and position is not None else None,
                }
            )
        return {
            "_id": f"{pipeline_id}/{self.worker_id}",
            "pipeline_id": pipeline_id,
            "worker_id": self.worker_id,
            "version": stats.version,
            "state": stats.state,
            "heartbeat_at": datetime.now(UTC),
            "partitions": partitions,
            "totals": {"in": counts[0], "out": counts[1], "dead_letters": counts[2], "batches": stats.batches},
            "rates": {"in_per_s": rates[0], "out_per_s": rates[1], "dead_letters_per_s": rates[2]},
            "last_error": stats.last_error,
        }

    def report(self) -> None:
        collection = self.db[WORKER_STATUS_COLLECTION]
        for pipeline_id, runner in list(self.runners.items()):
            document = self.heartbeat(pipeline_id, runner)
            collection.replace_one({"_id": document["_id"]}, document, upsert=True)

    # -- main loop ---------------------------------------------------------------------------------

    def run(self) -> None:
        log.info("stream worker %s started", self.worker_id, extra={"worker": self.worker_id})
        next_reconcile = next_report = 0.0
        while not self.stop_requested:
            now = time.monotonic()
            try:
                if now >= next_reconcile:
                    self.reconcile()
                    next_reconcile = now + self.stream_settings.reconcile_interval_s
                if now >= next_report:
                    self.report()
                    next_report = now + self.stream_settings.status_interval_s
            except PyMongoError as exc:
                log.warning("MongoDB is unavailable; pipelines keep running as they are: %s", exc)
                next_reconcile = next_report = now + 2.0
            time.sleep(0.2)
        self.shutdown()

    def shutdown(self) -> None:
        log.info("stream worker %s stopping", self.worker_id)
        for runner in self.runners.values():
            runner.stop()
        for pipeline_id in list(self.runners):
            self.retire(pipeline_id)
        self.mongo.close()


def default_worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m stream_pipeline.worker", description="Run stream pipelines.")
    parser.add_argument("--worker-id", default=None, help="a name for this worker (default: host-pid)")
    parser.add_argument(
        "--pipelines",
        action="append",
        default=None,
        metavar="GLOB",
        help="run only pipelines whose id matches (repeatable; default DATAFLOW_STREAM_PIPELINES or all)",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    configure_logging(WORKER_SERVICE, settings.log_level, settings.log_format)
    worker = Worker(settings, get_stream_settings(), args.worker_id or default_worker_id(), args.pipelines)
    for sig in (signal.SIGTERM, signal.SIGINT):
        # Only a plain assignment here: Event.set() in a signal handler can deadlock on the
        # event's own lock when the signal lands while the main thread is inside Event.wait().
        signal.signal(sig, lambda *_: setattr(worker, "stop_requested", True))
    faulthandler.register(signal.SIGUSR1, all_threads=True)  # `kill -USR1 <pid>` prints every thread's stack
    worker.run()


if __name__ == "__main__":
    main()
