"""stream_pipeline throughput and latency against a bare kafka-python consume → produce loop.

    python -m bench.stream [--messages 1000000] [--rate 500] [--latency-seconds 20]

Starts flow_automation and stream_pipeline as real processes on free ports
(the servers from scripts/servers.sh must be running), creates a pipeline
through the API (filter ``amount > 10`` → map ``amount_krw = amount * 1300``,
drop ``debug`` → Kafka sink) and runs it on one ``python -m
stream_pipeline.worker``. Next to it, on the same broker and in the same run,
a bare loop in its own process does the same work with kafka-python: poll,
``json.loads``, filter, map, ``json.dumps``, send, then flush and commit per
batch (the same at-least-once contract as the worker).

1. Throughput: ``--messages`` small JSON messages are produced once; each side
   consumes all of them with its own consumer group. Timing runs from the
   first output message to the last, so group joins are not counted.
2. Latency: messages carrying their send time are produced at ``--rate`` per
   second for ``--latency-seconds`` to a fresh topic per side; a consumer of
   the output topic records receive time minus send time (p50, p99).

Ends with ``RESULT throughput_ratio=<ours/bare> p99_latency_ms=<ours>``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from tests.integration.fixtures.platform import Platform, running_platform, wait_until

BOOTSTRAP = "127.0.0.1:9092"
PARTITIONS = 4
BATCH = 1000  # records per poll, both sides
FETCH_WAIT_MS = 100  # broker-side wait for a fetch to fill, both sides
LINGER_MS = 5  # producer batching delay, both sides


def create_topics(*names: str) -> None:
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1) for name in names])
    finally:
        admin.close()


def delete_topics(names: list[str]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=BOOTSTRAP)
    try:
        admin.delete_topics(names)
    except Exception as exc:  # noqa: BLE001 - clean-up only
        print(f"(could not delete benchmark topics: {exc})")
    finally:
        admin.close()


def message(n: int, sent_ns: int = 0) -> dict[str, Any]:
    return {"id": n, "amount": n % 100, "country": "KR", "sent_ns": sent_ns, "debug": "x" * 16}


def produce_bulk(topic: str, count: int) -> float:
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks=1, linger_ms=20, batch_size=512 * 1024)
    started = time.perf_counter()
    for n in range(count):
        producer.send(topic, json.dumps(message(n), separators=(",", ":")).encode())
    producer.flush()
    producer.close()
    return count / (time.perf_counter() - started)


def topic_size(consumer: KafkaConsumer, topic: str) -> int:
    partitions = [TopicPartition(topic, number) for number in range(PARTITIONS)]
    return sum(consumer.end_offsets(partitions).values())


def bare_loop(source: str, sink: str, group: str) -> None:
    """The baseline: the same filter and map with kafka-python and nothing else."""
    consumer = KafkaConsumer(
        source,
        bootstrap_servers=BOOTSTRAP,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=BATCH,
        fetch_max_wait_ms=FETCH_WAIT_MS,
    )
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks="all", linger_ms=LINGER_MS, batch_size=256 * 1024)
    while True:
        polled = consumer.poll(timeout_ms=FETCH_WAIT_MS, max_records=BATCH)
        if not polled:
            continue
        for messages in polled.values():
            for record in messages:
                value = json.loads(record.value)
                if value["amount"] > 10 and value["country"] == "KR":
                    value["amount_krw"] = value["amount"] * 1300
                    del value["debug"]
                    producer.send(sink, json.dumps(value, separators=(",", ":")).encode(), key=record.key)
        producer.flush()
        consumer.commit()


def expected_output(count: int) -> int:
    return sum(1 for n in range(count) if n % 100 > 10)


def measure_throughput(sink: str, expected: int, messages: int, timeout: float) -> float:
    """Input messages per second, from the first output message to the last."""
    consumer = KafkaConsumer(bootstrap_servers=BOOTSTRAP)
    try:
        deadline = time.monotonic() + timeout
        first_at, first_size = None, 0
        while time.monotonic() < deadline:
            size = topic_size(consumer, sink)
            now = time.perf_counter()
            if first_at is None and size > 0:
                first_at, first_size = now, size
            if size >= expected:
                assert first_at is not None
                return messages * (expected - first_size) / expected / (now - first_at)
            time.sleep(0.2)
        raise TimeoutError(f"{sink}: only {topic_size(consumer, sink)} of {expected} outputs after {timeout:.0f}s")
    finally:
        consumer.close()


def measure_latency(source: str, sink: str, rate: int, seconds: float) -> list[float]:
    """Send ``rate`` messages a second for ``seconds``; the end-to-end latencies in ms of those that pass."""
    consumer = KafkaConsumer(sink, bootstrap_servers=BOOTSTRAP, group_id=None, fetch_max_wait_ms=10)
    consumer.poll(timeout_ms=1000)  # join before the clock starts
    producer = KafkaProducer(bootstrap_servers=BOOTSTRAP, acks=1, linger_ms=0)
    latencies: list[float] = []
    total = int(rate * seconds)
    started = time.perf_counter()
    sent = 0
    while sent < total:
        due = started + sent / rate
        if time.perf_counter() < due:
            for messages in consumer.poll(timeout_ms=max(0, int((due - time.perf_counter()) * 1000))).values():
                latencies.extend((time.time_ns() - json.loads(m.value)["sent_ns"]) / 1e6 for m in messages)
            continue
        producer.send(source, json.dumps(message(sent, time.time_ns()), separators=(",", ":")).encode())
        sent += 1
    producer.flush()
    expected = expected_output(total)
    deadline = time.monotonic() + 60
    while len(latencies) < expected and time.monotonic() < deadline:
        for messages in consumer.poll(timeout_ms=200).values():
            latencies.extend((time.time_ns() - json.loads(m.value)["sent_ns"]) / 1e6 for m in messages)
    producer.close()
    consumer.close()
    return latencies


def pipeline_definition(name: str, source: str, sink: str) -> dict[str, Any]:
    return {
        "name": name,
        "source": {"topics": [source], "group": name, "start": "earliest", "format": "json"},
        "steps": [
            {"type": "filter", "expr": "amount > 10 and country == 'KR'"},
            {"type": "map", "set": {"amount_krw": "amount * 1300"}, "drop": ["debug"]},
        ],
        "sink": {"type": "kafka", "topic": sink, "partitions": PARTITIONS},
        "batch": {"max_records": BATCH, "max_wait_ms": FETCH_WAIT_MS},
    }


def run_pipeline(platform: Platform, name: str, source: str, sink: str) -> None:
    with platform.client("stream_pipeline") as client:
        created = client.post("/api/v1/pipelines", json=pipeline_definition(name, source, sink))
        assert created.status_code == 201, created.text
        assert client.post(f"/api/v1/pipelines/{name}/start").status_code == 200


def stop_pipeline(platform: Platform, name: str) -> None:
    with platform.client("stream_pipeline") as client:
        client.post(f"/api/v1/pipelines/{name}/stop")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000, help="messages for the throughput run")
    parser.add_argument("--rate", type=int, default=500, help="messages per second for the latency run")
    parser.add_argument("--latency-seconds", type=float, default=20)
    args = parser.parse_args()
    run = uuid.uuid4().hex[:8]
    source, bare_sink, our_sink = f"bench.{run}.in", f"bench.{run}.bare", f"bench.{run}.ours"
    lat_in_bare, lat_out_bare = f"bench.{run}.lat-in-bare", f"bench.{run}.lat-out-bare"
    lat_in_ours, lat_out_ours = f"bench.{run}.lat-in-ours", f"bench.{run}.lat-out-ours"
    topics = [source, bare_sink, our_sink, lat_in_bare, lat_out_bare, lat_in_ours, lat_out_ours]
    create_topics(source, bare_sink, lat_in_bare, lat_out_bare, lat_in_ours)
    expected = expected_output(args.messages)
    timeout = max(300.0, args.messages / 500)
    try:
        print(f"producing {args.messages} messages to {source} ...", flush=True)
        produce_rate = produce_bulk(source, args.messages)
        print(f"  produced at {produce_rate:,.0f} msg/s", flush=True)

        print("bare kafka-python loop: throughput ...", flush=True)
        bare = multiprocessing.get_context("spawn").Process(target=bare_loop, args=(source, bare_sink, f"bare-{run}"))
        bare.start()
        bare_tput = measure_throughput(bare_sink, expected, args.messages, timeout)
        bare.terminate()
        bare.join()

        print("bare kafka-python loop: latency ...", flush=True)
        bare = multiprocessing.get_context("spawn").Process(
            target=bare_loop, args=(lat_in_bare, lat_out_bare, f"bare-lat-{run}")
        )
        bare.start()
        time.sleep(3)  # group join
        bare_latency = measure_latency(lat_in_bare, lat_out_bare, args.rate, args.latency_seconds)
        bare.terminate()
        bare.join()

        with tempfile.TemporaryDirectory() as state, running_platform(Path(state), ("stream_pipeline",)) as platform:
            worker_log = Path(state) / "worker.log"
            with open(worker_log, "wb") as log:
                worker = subprocess.Popen(
                    [sys.executable, "-m", "stream_pipeline.worker", "--worker-id", "bench"],
                    env=platform.env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                print("stream_pipeline worker: throughput ...", flush=True)
                run_pipeline(platform, f"bench-{run}", source, our_sink)
                ours_tput = measure_throughput(our_sink, expected, args.messages, timeout)
                stop_pipeline(platform, f"bench-{run}")

                print("stream_pipeline worker: latency ...", flush=True)
                run_pipeline(platform, f"bench-lat-{run}", lat_in_ours, lat_out_ours)
                wait_until(lambda: "assigned ['" in worker_log.read_text().split(f"bench-lat-{run}", 1)[-1], timeout=60)
                ours_latency = measure_latency(lat_in_ours, lat_out_ours, args.rate, args.latency_seconds)
                stop_pipeline(platform, f"bench-lat-{run}")
            finally:
                worker.terminate()
                worker.wait(timeout=30)
    finally:
        delete_topics(topics)

    print()
    print(f"{'':34}{'stream_pipeline':>16}{'bare loop':>14}{'ratio':>10}")
    print(f"{'throughput (input msg/s)':34}{ours_tput:16,.0f}{bare_tput:14,.0f}{ours_tput / bare_tput:10.3f}")
    for label, fraction in (("latency p50 (ms)", 0.5), ("latency p99 (ms)", 0.99)):
        mine, theirs = percentile(ours_latency, fraction), percentile(bare_latency, fraction)
        print(f"{label:34}{mine:16.1f}{theirs:14.1f}{mine / theirs:10.3f}")
    print(f"{'latency mean (ms)':34}{statistics.mean(ours_latency):16.1f}{statistics.mean(bare_latency):14.1f}")
    print(f"(messages={args.messages}, latency at {args.rate} msg/s for {args.latency_seconds:g}s)")
    p99 = percentile(ours_latency, 0.99)
    print(f"RESULT throughput_ratio={ours_tput / bare_tput:.3f} p99_latency_ms={p99:.1f}")


if __name__ == "__main__":
    main()
