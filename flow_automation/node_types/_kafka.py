"""What ``kafka.produce`` and ``kafka.consume`` share: topic names and telling a missing topic from a dead broker."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from common.errors import DependencyUnavailable
from common.settings import Settings
from flow_automation.node_types._base import NodeError

#: Kafka's own rule for topic names.
TOPIC_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"


def topic_field() -> Any:
    return Field(pattern=TOPIC_PATTERN, title="Topic", description="an existing topic (topics are not auto-created)")


def topic_partitions(settings: Settings, topic: str) -> set[int]:
    """The partitions of ``topic``: a :class:`NodeError` when it does not exist, 503 when Kafka is unreachable."""
    from kafka.errors import KafkaError

    from common.kafka import create_consumer

    try:
        consumer = create_consumer(settings, group_id=None)
    except KafkaError as exc:
        raise DependencyUnavailable(f"Kafka is unreachable at {settings.kafka_bootstrap}: {exc}") from exc
    try:
        partitions = consumer.partitions_for_topic(topic)
    except KafkaError as exc:
        raise DependencyUnavailable(f"Kafka did not answer for topic {topic!r}: {exc}") from exc
    finally:
        consumer.close()
    if not partitions:
        raise NodeError(f"topic {topic!r} does not exist (field 'topic'); create it first, topics are not auto-created")
    return set(partitions)
