"""``kafka``: produce each record to a topic, keyed by an expression or the source key.

The topic belongs to the pipeline: it is created on start when missing, with
``partitions`` partitions. The batch is flushed with ``acks=all`` before
``write`` returns; a record the broker refuses for itself (too large) is
dead-lettered, any other failure is retried by the worker.
"""

from __future__ import annotations

from typing import Any, Literal

from kafka.errors import InvalidTopicError, MessageSizeTooLargeError, RecordListTooLargeError
from pydantic import Field, field_validator

from common.kafka import TopicSpec, create_producer, ensure_topics
from stream_pipeline.expressions import check_expression, compile_expression
from stream_pipeline.records import DeadLetter, Record, key_bytes
from stream_pipeline.sinks.base import Sink, SinkConfig, json_bytes

TOPIC_PATTERN = r"^[A-Za-z0-9._-]{1,249}$"
_REFUSED = (MessageSizeTooLargeError, RecordListTooLargeError, InvalidTopicError)


class KafkaSinkConfig(SinkConfig):
    type: Literal["kafka"]
    topic: str = Field(pattern=TOPIC_PATTERN)
    key: str | None = Field(None, description="expression for the message key; default: the source message's key")
    partitions: int = Field(1, ge=1, le=1000, description="partitions when the topic is created")
    format: Literal["json", "text"] = Field("json", description="text writes string values as plain UTF-8")

    _check = field_validator("key")(lambda value: value if value is None else check_expression(value))


class KafkaSink(Sink):
    type = "kafka"
    config_model = KafkaSinkConfig

    def __init__(self, config: KafkaSinkConfig, *args: Any) -> None:
        super().__init__(config, *args)
        self.key = compile_expression(config.key) if config.key else None
        self.producer: Any = None

    def open(self) -> None:
        ensure_topics(self.context.settings, [TopicSpec(name=self.config.topic, partitions=self.config.partitions)])
        if self.producer is None:
            self.producer = create_producer(
                self.context.settings,
                value_serializer=None,
                key_serializer=None,
                linger_ms=5,
                batch_size=256 * 1024,
            )

    def encode(self, value: Any) -> bytes:
        if isinstance(value, bytes | bytearray):
            return bytes(value)
        if self.config.format == "text" and isinstance(value, str):
            return value.encode()
        return json_bytes(value)

    def write(self, records: list[Record]) -> list[DeadLetter]:
        if self.producer is None:
            self.open()
        refused: list[DeadLetter] = []
        sent = []
        send, topic, encode, key = self.producer.send, self.config.topic, self.encode, self.key
        for record in records:
            try:
                payload = encode(record.value)
                message_key = key_bytes(key(record)) if key is not None else record.key
            except (TypeError, ValueError) as exc:
                refused.append(DeadLetter.from_exception(record, self.label, exc))
                continue
            sent.append((record, send(topic, value=payload, key=message_key)))
        self.producer.flush()
        for record, future in sent:
            if future.failed():
                if isinstance(future.exception, _REFUSED):
                    refused.append(DeadLetter.from_exception(record, self.label, future.exception))
                else:
                    raise future.exception
        return refused

    def close(self) -> None:
        if self.producer is not None:
            self.producer.close(timeout=5)
            self.producer = None
