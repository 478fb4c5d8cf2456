"""Shared by the stream_pipeline integration tests: worker processes, Kafka I/O, pipeline creation.

No tests here. Workers are real ``python -m stream_pipeline.worker``
processes started with the platform's environment; each is told which
pipeline ids it runs (``--pipelines``), so tests that need their own workers
(scale-out) do not share partitions with the common one. On teardown every
worker's log is checked for errors, as the platform fixture does for services.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from tests.integration.fixtures.kafka import KAFKA_BOOTSTRAP
from tests.integration.fixtures.platform import Platform, wait_until
from tests.integration.fixtures.servers import REPO

#: Pipelines of the shared worker have ids starting with this.
SHARED_PREFIX = "it-"


@dataclass
class WorkerProcess:
    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for raw in self.log_path.read_text(errors="replace").splitlines():
            try:
                lines.append(json.loads(raw))
            except json.JSONDecodeError:
                lines.append({"level": "raw", "msg": raw})
        return lines

    def errors(self) -> list[str]:
        return [
            f"{self.name}: {line.get('msg')} {line.get('exc', '')}"
            for line in self.log_lines()
            if line.get("level") in ("error", "critical") or "Traceback" in str(line.get("msg", ""))
        ]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class Workers:
    platform: Platform
    started: list[WorkerProcess] = field(default_factory=list)

    def start(self, patterns: list[str], name: str | None = None) -> WorkerProcess:
        name = name or f"worker-{uuid.uuid4().hex[:6]}"
        log_path = self.platform.state_dir / f"stream-{name}.log"
        arguments = [sys.executable, "-m", "stream_pipeline.worker", "--worker-id", name]
        for pattern in patterns:
            arguments += ["--pipelines", pattern]
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(
                arguments,
                cwd=REPO,
                env={**self.platform.env, "DATAFLOW_STREAM_STATUS_INTERVAL_S": "1"},
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        worker = WorkerProcess(name, process, log_path)
        self.started.append(worker)
        wait_until(
            lambda: process.poll() is None and "started" in log_path.read_text(),
            timeout=60,
            message=f"stream worker {name} to start (log: {log_path})",
        )
        return worker

    def stop_all(self) -> list[str]:
        for worker in self.started:
            worker.stop()
        return [problem for worker in self.started for problem in worker.errors()]


@pytest.fixture(scope="session")
def shared_worker(platform: Platform) -> Iterator[WorkerProcess]:
    """One worker running every ``it-*`` pipeline, for the whole session."""
    workers = Workers(platform)
    worker = workers.start([f"{SHARED_PREFIX}*"], name="shared")
    yield worker
    problems = workers.stop_all()
    assert not problems, "stream workers logged unexpected errors:\n" + "\n".join(problems)


@pytest.fixture
def workers(platform: Platform) -> Iterator[Workers]:
    """Workers a test starts itself; stopped (and their logs checked) when it ends."""
    started = Workers(platform)
    yield started
    problems = started.stop_all()
    assert not problems, "stream workers logged unexpected errors:\n" + "\n".join(problems)


@pytest.fixture(scope="module")
def streams(platform: Platform) -> Iterator[httpx.Client]:
    with platform.client("stream_pipeline") as client:
        yield client


def unique(prefix: str = SHARED_PREFIX) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def produce(topic: str, values: list[Any], *, keys: list[Any] | None = None, raw: bool = False) -> None:
    """Send ``values`` (JSON, or bytes as they are with ``raw``) and wait for the broker's acks."""
    producer = KafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all", linger_ms=5)
    try:
        for index, value in enumerate(values):
            payload = value if raw else json.dumps(value).encode()
            key = keys[index] if keys is not None else None
            producer.send(topic, value=payload, key=key.encode() if isinstance(key, str) else key)
        producer.flush()
    finally:
        producer.close()


def read_topic(topic: str, count: int, *, timeout: float = 60) -> list[Any]:
    """The first ``count`` messages of ``topic`` (all partitions), as ConsumerRecords; fails after ``timeout``."""
    consumer = KafkaConsumer(bootstrap_servers=KAFKA_BOOTSTRAP, group_id=None, enable_auto_commit=False)
    try:
        deadline = time.monotonic() + timeout
        partitions: set[int] = set()
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                time.sleep(0.5)
                consumer.topics()
        consumer.assign([TopicPartition(topic, partition) for partition in partitions])
        consumer.seek_to_beginning()
        messages: list[Any] = []
        while len(messages) < count and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=500).values():
                messages.extend(batch)
        assert len(messages) >= count, f"{topic}: {len(messages)} messages after {timeout}s, expected {count}"
        return messages
    finally:
        consumer.close()


def read_json(topic: str, count: int, *, timeout: float = 60) -> list[Any]:
    return [json.loads(message.value) for message in read_topic(topic, count, timeout=timeout)]


def topic_size(topic: str) -> int:
    consumer = KafkaConsumer(bootstrap_servers=KAFKA_BOOTSTRAP, group_id=None)
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, partition) for partition in partitions]
        return sum(consumer.end_offsets(tps).values()) if tps else 0
    finally:
        consumer.close()


def start_pipeline(client: httpx.Client, definition: dict[str, Any]) -> dict[str, Any]:
    created = client.post("/api/v1/pipelines", json=definition)
    assert created.status_code == 201, created.text
    started = client.post(f"/api/v1/pipelines/{created.json()['id']}/start")
    assert started.status_code == 200, started.text
    assert started.json()["state"] == "running"
    return started.json()


def wait_for_running(
    client: httpx.Client, pipeline_id: str, *, version: int | None = None, timeout: float = 90
) -> None:
    """Until a worker reports the pipeline running (at ``version``) with partitions assigned."""

    def running() -> bool:
        status = client.get(f"/api/v1/pipelines/{pipeline_id}/status").json()
        return any(
            worker["state"] == "running" and worker["partitions"] and (version is None or worker["version"] == version)
            for worker in status["workers"]
        )

    wait_until(running, timeout=timeout, interval=0.5, message=f"pipeline {pipeline_id} to run")


def stop_pipeline(client: httpx.Client, pipeline_id: str) -> None:
    response = client.post(f"/api/v1/pipelines/{pipeline_id}/stop")
    assert response.status_code == 200, response.text
