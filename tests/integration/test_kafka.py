"""Kafka round trip with kafka-python: produce, consume in a group, commit, resume."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.serializer import JsonSerializer

from common.kafka import TopicSpec, ensure_topics
from common.settings import Settings
from tests.integration.fixtures.kafka import KAFKA_BOOTSTRAP

pytestmark = pytest.mark.integration


def _consume(topic: str, group: str, count: int) -> tuple[KafkaConsumer, list[dict]]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=KAFKA_BOOTSTRAP,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        value_deserializer=JsonSerializer(),
        consumer_timeout_ms=15000,
    )
    values = []
    for message in consumer:
        values.append(message.value)
        if len(values) == count:
            break
    return consumer, values


def test_consumer_group_resumes_from_its_committed_offset(new_topic: Callable[..., str]) -> None:
    topic = new_topic()
    producer = KafkaProducer(bootstrap_servers=KAFKA_BOOTSTRAP, acks="all", value_serializer=JsonSerializer())
    for n in range(10):
        producer.send(topic, {"n": n}, key=b"k")
    producer.flush()
    producer.close()

    consumer, first = _consume(topic, "resume-group", 4)
    assert [value["n"] for value in first] == [0, 1, 2, 3]
    consumer.commit()
    consumer.close()

    consumer, rest = _consume(topic, "resume-group", 6)
    consumer.commit()
    consumer.close()
    assert [value["n"] for value in rest] == [4, 5, 6, 7, 8, 9]


def test_ensure_topics_creates_missing_topics_once(kafka_admin: KafkaAdminClient) -> None:
    settings = Settings(kafka_bootstrap=KAFKA_BOOTSTRAP)
    name = f"test.ensure.{uuid.uuid4().hex[:8]}"
    try:
        assert ensure_topics(settings, [TopicSpec(name=name, partitions=3)]) == [name]
        assert ensure_topics(settings, [TopicSpec(name=name, partitions=3)]) == []
        described = kafka_admin.describe_topics([name])
        assert len(described[0]["partitions"]) == 3
    finally:
        kafka_admin.delete_topics([name])
