"""``kafka.produce``: send rows or JSON items to a Kafka topic, one message each.

A table sends one JSON object per row; a JSON list one message per item;
any other value one message. ``key`` names the column (or, for JSON objects,
the field) whose value becomes the message key, so messages of one key
keep their order in one partition. Every message waits for all in-sync
replicas (``acks=all``) before the node succeeds; a missing topic fails the
node by name (the broker does not create topics).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import Field

from common.errors import DependencyUnavailable
from common.sandbox.values import UnserializableResult, encode_value
from flow_automation.node_types._base import (
    NodeCanceled,
    NodeConfig,
    NodeContext,
    NodeError,
    NodeType,
    Port,
    PortKind,
)
from flow_automation.node_types._kafka import topic_field, topic_partitions
from flow_automation.node_types._records import table_records

#: Messages sent between two looks at ``context.cancelled``.
CANCEL_CHECK_EVERY = 500


class KafkaProduceConfig(NodeConfig):
    topic: str = topic_field()
    key: str | None = Field(
        None, min_length=1, title="Key column", description="column (or JSON field) whose value keys each message"
    )
    headers: dict[str, str] = Field(default_factory=dict, title="Headers", description="added to every message")
    flush_timeout_s: float = Field(30.0, gt=0, le=600, title="Delivery timeout (s)")


def run(context: NodeContext[KafkaProduceConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    from kafka.errors import KafkaError, KafkaTimeoutError

    from common.kafka import create_producer

    config = context.config
    messages = keyed_messages(inputs, config.key)
    settings = context.require_services().settings
    try:
        producer = create_producer(settings)
    except KafkaError as exc:
        raise DependencyUnavailable(f"Kafka is unreachable at {settings.kafka_bootstrap}: {exc}") from exc
    headers = [(name, value.encode()) for name, value in config.headers.items()]
    partitions: set[int] = set()
    try:
        try:
            producer.partitions_for(config.topic)
        except KafkaTimeoutError:
            topic_partitions(settings, config.topic)  # names a missing topic; else Kafka is down
            raise
        futures = []
        for index, (key, value) in enumerate(messages):
            if index % CANCEL_CHECK_EVERY == 0 and context.cancelled.is_set():
                raise NodeCanceled(f"node {context.node_id} was canceled after sending {index} message(s)")
            futures.append(producer.send(config.topic, value=value, key=key, headers=headers))
        producer.flush(timeout=config.flush_timeout_s)
        partitions = {future.get(timeout=config.flush_timeout_s).partition for future in futures}
    except KafkaError as exc:
        raise DependencyUnavailable(f"sending to topic {config.topic!r} failed: {exc}") from exc
    finally:
        producer.close(timeout=5)
    return {"result": {"topic": config.topic, "messages": len(messages), "partitions": sorted(partitions)}}


def keyed_messages(inputs: Mapping[str, Any], key: str | None) -> list[tuple[str | None, Any]]:
    """(key, JSON value) for each message the input ``messages`` makes."""
    if "messages" not in inputs:
        raise NodeError("input 'messages' is missing; connect a table, a JSON list or a value")
    value = inputs["messages"]
    if isinstance(value, pd.DataFrame):
        if key is not None and key not in map(str, value.columns):
            raise NodeError(
                f"key column {key!r} (field 'key') is not in input 'messages'; its columns are "
                f"{[str(c) for c in value.columns]}"
            )
        items: list[Any] = table_records(value)
    else:
        items = value if isinstance(value, list) else [value]
    try:
        encoded = [encode_value(item) for item in items]
    except UnserializableResult as exc:
        raise NodeError(f"input 'messages' cannot be sent as JSON: {exc}") from None
    return [(_key_of(index, item, key), item) for index, item in enumerate(encoded)]


def _key_of(index: int, item: Any, key: str | None) -> str | None:
    if key is None:
        return None
    if not isinstance(item, Mapping):
        raise NodeError(f"message {index} is not a JSON object, so it has no field {key!r} (field 'key')")
    if key not in item:
        raise NodeError(f"message {index} lacks the key field {key!r} (field 'key')")
    value = item[key]
    return None if value is None else value if isinstance(value, str) else str(value)


NODE_TYPE = NodeType(
    id="kafka.produce",
    title="Kafka produce",
    category="Kafka",
    description="Send each row (or JSON item) to a Kafka topic as a JSON message, keyed by a column if given.",
    inputs=(Port(name="messages", kind=PortKind.ANY, description="a table, a JSON list, or one value"),),
    outputs=(Port(name="result", kind=PortKind.JSON, description="{topic, messages, partitions}"),),
    config_model=KafkaProduceConfig,
    run=run,
)
