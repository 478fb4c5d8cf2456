"""``kafka.consume``: read a bounded batch of messages from a Kafka topic.

Reading stops at whichever comes first: ``max_messages`` read, or
``max_seconds`` passed (a quiet topic ends the node with what it has, maybe
nothing). With a ``group`` the node reads as that consumer group, from the
group's committed offsets, and commits what it read when done, so the next
run continues where this one stopped (at least once: a run that fails
before the commit re-reads). Without a group it reads every partition from
the ``start`` (earliest or latest) and commits nothing.

Values are decoded as JSON (falling back to text when a value is not JSON,
or always as text when ``value_format`` says so). ``table`` output makes
each JSON object a row (other values go to a ``value`` column); ``json``
a list of the values. ``include_metadata`` adds each message's topic,
partition, offset, key and timestamp.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd
from pydantic import Field

from common.errors import DependencyUnavailable
from flow_automation.node_types._base import NodeCanceled, NodeConfig, NodeContext, NodeType, Port, PortKind
from flow_automation.node_types._kafka import topic_field, topic_partitions

#: Longest single wait for messages; a cancel is noticed between two waits.
POLL_MS = 250
METADATA_FIELDS = ("_topic", "_partition", "_offset", "_key", "_timestamp")


class KafkaConsumeConfig(NodeConfig):
    topic: str = topic_field()
    group: str | None = Field(
        None,
        min_length=1,
        max_length=249,
        title="Consumer group",
        description="read and commit as this group; empty: no group, read from 'start' every run",
    )
    start: Literal["earliest", "latest"] = Field(
        "earliest", title="Start", description="where to begin without a group (or for a group's first run)"
    )
    max_messages: int = Field(1000, ge=1, le=1_000_000, title="Max messages")
    max_seconds: float = Field(10.0, gt=0, le=3600, title="Max seconds", description="stop reading after this long")
    value_format: Literal["json", "text"] = Field("json", title="Value format")
    output: Literal["table", "json"] = Field("table", title="Output", description="a table, or a JSON list")
    include_metadata: bool = Field(
        False, title="Include metadata", description="add topic, partition, offset, key and timestamp"
    )


def run(context: NodeContext[KafkaConsumeConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    from kafka.errors import KafkaError

    config = context.config
    settings = context.require_services().settings
    partitions = topic_partitions(settings, config.topic)
    try:
        consumer = _consumer(settings, config, partitions)
    except KafkaError as exc:
        raise DependencyUnavailable(f"Kafka is unreachable at {settings.kafka_bootstrap}: {exc}") from exc
    try:
        records = _read(context, consumer)
        if config.group is not None and records:
            consumer.commit()
    except KafkaError as exc:
        raise DependencyUnavailable(f"reading topic {config.topic!r} failed: {exc}") from exc
    finally:
        consumer.close(autocommit=False)
    messages = [message_value(record, config) for record in records]
    context.log.info("node %s read %d message(s) from %s", context.node_id, len(messages), config.topic)
    return {"messages": messages_table(messages) if config.output == "table" else messages, "count": len(messages)}


def _consumer(settings: Any, config: KafkaConsumeConfig, partitions: set[int]) -> Any:
    from kafka import TopicPartition

    from common.kafka import create_consumer

    consumer = create_consumer(
        settings,
        group_id=config.group,
        auto_offset_reset=config.start,
        max_poll_records=min(config.max_messages, 5000),
    )
    if config.group is not None:
        consumer.subscribe([config.topic])
        return consumer
    assigned = [TopicPartition(config.topic, partition) for partition in sorted(partitions)]
    consumer.assign(assigned)
    if config.start == "earliest":
        consumer.seek_to_beginning(*assigned)
    else:
        consumer.seek_to_end(*assigned)
    return consumer


def _read(context: NodeContext[KafkaConsumeConfig], consumer: Any) -> list[Any]:
    config = context.config
    deadline = time.monotonic() + config.max_seconds
    records: list[Any] = []
    while len(records) < config.max_messages:
        if context.cancelled.is_set():
            raise NodeCanceled(f"node {context.node_id} was canceled after reading {len(records)} message(s)")
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            break
        batches = consumer.poll(timeout_ms=min(POLL_MS, remaining_ms), max_records=config.max_messages - len(records))
        for batch in batches.values():
            records.extend(batch)
    return sorted(records, key=lambda record: (record.partition, record.offset))


def message_value(record: Any, config: KafkaConsumeConfig) -> Any:
    raw = record.value
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes | bytearray) else raw
    value: Any = text
    if config.value_format == "json" and text is not None:
        try:
            value = json.loads(text)
        except ValueError:
            value = text
    if not config.include_metadata:
        return value
    key = record.key.decode("utf-8", "replace") if isinstance(record.key, bytes | bytearray) else record.key
    metadata = dict(
        zip(METADATA_FIELDS, (record.topic, record.partition, record.offset, key, record.timestamp), strict=True)
    )
    return {**metadata, **value} if isinstance(value, dict) else {**metadata, "value": value}


def messages_table(messages: list[Any]) -> pd.DataFrame:
    """One row per message: a JSON object's fields as columns, any other value in the column ``value``."""
    rows = [message if isinstance(message, dict) else {"value": message} for message in messages]
    return pd.DataFrame(rows)


NODE_TYPE = NodeType(
    id="kafka.consume",
    title="Kafka consume",
    category="Kafka",
    description="Read up to a number of messages (or for up to a time) from a Kafka topic, as a table or JSON.",
    outputs=(
        Port(name="messages", kind=PortKind.ANY, description="the messages: a table, or a JSON list"),
        Port(name="count", kind=PortKind.JSON, description="how many messages were read"),
    ),
    config_model=KafkaConsumeConfig,
    run=run,
)
