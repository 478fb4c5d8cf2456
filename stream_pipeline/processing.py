"""Decoding and steps of one pipeline definition, with no Kafka in sight.

:class:`Processor` turns consumed messages into records (a message that
cannot be decoded becomes a dead letter), runs them through the steps in
order and returns what reaches the sink. The worker feeds it polled batches;
the preview endpoint feeds it sample messages. It also gathers what the
stateful steps need from the commit: the offsets they hold and their
checkpoints, serialised into the commit metadata.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from stream_pipeline.constants import REPLAY_HEADER_OFFSET, REPLAY_HEADER_PARTITION, REPLAY_HEADER_TOPIC
from stream_pipeline.models import SourceFormat
from stream_pipeline.records import DeadLetter, Record
from stream_pipeline.steps import Step, StepContext, build_step

log = logging.getLogger(__name__)

DECODE_STAGE = "decode"
_JSON = json.JSONDecoder()
MAX_CHECKPOINT_CHARS = 3000  # the broker's default offset.metadata.max.bytes is 4096


class Processor:
    def __init__(self, source_format: SourceFormat, steps: list[Any], context: StepContext) -> None:
        self.format = SourceFormat(source_format)
        self.steps: list[Step] = []
        try:
            for index, config in enumerate(steps):
                self.steps.append(build_step(config, context, index))
        except BaseException:
            self.close()
            raise

    # -- decoding ----------------------------------------------------------------------------

    def decode_value(self, raw: bytes | None) -> Any:
        if raw is None:
            raise ValueError("the message has no value (a tombstone)")
        if self.format is SourceFormat.json:
            return json.loads(raw.decode("utf-8"))  # RFC 8259: JSON on the wire is UTF-8, nothing else
        if self.format is SourceFormat.text:
            return raw.decode("utf-8")
        return raw

    def decode(self, messages: list[Any], dead: list[DeadLetter]) -> list[Record]:
        """Records from kafka-python ``ConsumerRecord``s; undecodable ones go to ``dead``."""
        records: list[Record] = []
        append, decode_value = records.append, self.decode_value
        parse = _JSON.decode if self.format is SourceFormat.json else None
        for message in messages:
            raw, headers = message.value, message.headers
            record = Record.of(
                message.topic,
                message.partition,
                message.offset,
                message.key,
                message.timestamp,
                raw,
                headers or None,
                _replay_origin(headers) if headers else None,
            )
            try:
                record.value = parse(raw.decode()) if parse is not None and raw is not None else decode_value(raw)
            except (ValueError, UnicodeDecodeError) as exc:
                dead.append(DeadLetter.from_exception(record, DECODE_STAGE, exc))
                continue
            append(record)
        return records

    # -- steps -------------------------------------------------------------------------------

    def run(self, records: list[Record], dead: list[DeadLetter]) -> list[Record]:
        for step in self.steps:
            if not records:
                break  # no step emits without input: windows close as event time moves on
            records = step.process(records, dead)
        return records

    def drain(self, dead: list[DeadLetter]) -> list[Record]:
        """Emit what stateful steps still hold, passing it through the steps after them."""
        emitted: list[Record] = []
        for index, step in enumerate(self.steps):
            pending = step.drain()
            for later in self.steps[index + 1 :]:
                if not pending:
                    break
                pending = later.process(pending, dead)
            emitted.extend(pending)
        return emitted

    # -- commit support --------------------------------------------------------------------------

    def held_offsets(self) -> dict[tuple[str, int], int]:
        held: dict[tuple[str, int], int] = {}
        for step in self.steps:
            for partition, offset in step.held_offsets().items():
                if offset < held.get(partition, offset + 1):
                    held[partition] = offset
        return held

    def checkpoint(self) -> str:
        saved = {str(index): point for index, step in enumerate(self.steps) if (point := step.checkpoint()) is not None}
        text = json.dumps({"steps": saved}, separators=(",", ":")) if saved else ""
        return text if len(text) <= MAX_CHECKPOINT_CHARS else ""

    def restore(self, metadata: str | None) -> None:
        if not metadata:
            return
        try:
            saved = json.loads(metadata).get("steps", {})
        except (ValueError, AttributeError):
            log.warning("ignoring commit metadata that is not ours: %.100s", metadata)
            return
        for index, step in enumerate(self.steps):
            if str(index) in saved:
                step.restore(saved[str(index)])

    @property
    def stateful(self) -> bool:
        return any(type(step).reset is not Step.reset for step in self.steps)

    def reset(self) -> None:
        for step in self.steps:
            step.reset()

    def close(self) -> None:
        for step in self.steps:
            try:
                step.close()
            except Exception:
                log.warning("closing %s failed", step.label, exc_info=True)


def _replay_origin(headers: list[tuple[str, bytes]]) -> tuple[str, int, int] | None:
    found = {name: value for name, value in headers if name.startswith("dataflow.origin.")}
    try:
        return (
            found[REPLAY_HEADER_TOPIC].decode(),
            int(found[REPLAY_HEADER_PARTITION]),
            int(found[REPLAY_HEADER_OFFSET]),
        )
    except (KeyError, ValueError, UnicodeDecodeError):
        return None
