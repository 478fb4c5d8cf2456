"""Pure rules of trigger messages: params from a message, dedupe keys, ecron job bodies.

Nothing here touches a server, so every rule is unit-tested on its own
(``tests/unit/test_flow_triggers.py``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flow_automation.flows.model import CronTrigger, FlowDefinition

#: Longest dedupe key or Idempotency-Key taken as given; longer ones are hashed.
MAX_KEY_LENGTH = 200


class BadMessage(ValueError):
    """A message that can never start a run (not JSON, wrong shape); it is skipped, not retried."""


def decode_json(value: bytes | None) -> Any:
    """A message value as JSON; BadMessage when it is empty or not UTF-8 JSON."""
    if value is None or not value.strip():
        raise BadMessage("the message has no value")
    try:
        return json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadMessage(f"the message value is not JSON: {exc}") from None


def message_params(payload: Any) -> dict[str, Any]:
    """The params a Kafka trigger message carries.

    A JSON object is the params itself; any other JSON value (a number, a
    string, an array) goes under ``message``, so a flow that declares a
    ``message`` param can take scalar events too.
    """
    return dict(payload) if isinstance(payload, dict) else {"message": payload}


def merge_params(trigger_params: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The trigger's configured params with the message's (or request's) params over them."""
    return {**trigger_params, **given}


def field_value(payload: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``"order.id"``, ``"items.0.sku"``) of a JSON value, or None."""
    current = payload
    for part in path.split("."):
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def bounded_key(key: str) -> str:
    """``key`` itself when short, else a digest of it: keys are stored and indexed."""
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return "sha256:" + hashlib.sha256(key.encode()).hexdigest()


def kafka_dedupe_key(
    flow_id: str, *, topic: str, partition: int, offset: int, payload: Any, dedupe_field: str | None
) -> str:
    """The run dedupe key of a Kafka trigger message.

    The configured field's value names the message when present (a producer
    that sends the same event twice is deduplicated too); otherwise its
    position, which is the same on every redelivery.
    """
    value = field_value(payload, dedupe_field) if dedupe_field else None
    if value is None or isinstance(value, dict | list):
        name = f"{topic}:{partition}:{offset}"
    else:
        name = f"field:{json.dumps(value) if not isinstance(value, str) else value}"
    return bounded_key(f"kafka:{flow_id}:{name}")


@dataclass(frozen=True, kw_only=True)
class TriggerRequest:
    """A message of ``dataflow.triggers``: start a run of ``flow_id``."""

    flow_id: str
    params: dict[str, Any]
    version: int | None
    dedupe_key: str


def trigger_request(payload: Any, *, partition: int, offset: int) -> TriggerRequest:
    """``{"flow_id", "params"?, "version"?, "dedupe_key"?}`` checked; BadMessage names the field."""
    if not isinstance(payload, dict):
        raise BadMessage("a trigger request is a JSON object")
    flow_id = payload.get("flow_id")
    if not isinstance(flow_id, str) or not flow_id:
        raise BadMessage("'flow_id' is missing or not a string")
    params = payload.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise BadMessage("'params' must be an object")
    version = payload.get("version")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 1):
        raise BadMessage("'version' must be a positive integer")
    given = payload.get("dedupe_key")
    if given is not None and (not isinstance(given, str) or not given):
        raise BadMessage("'dedupe_key' must be a non-empty string")
    key = f"triggers:{flow_id}:{given}" if given else f"triggers:{partition}:{offset}"
    return TriggerRequest(flow_id=flow_id, params=params, version=version, dedupe_key=bounded_key(key))


def webhook_dedupe_key(flow_id: str, idempotency_key: str) -> str:
    return bounded_key(f"webhook:{flow_id}:{idempotency_key}")


def ecron_job_name(flow_id: str, index: int) -> str:
    return f"flow:{flow_id}:{index}"


def ecron_job(flow: FlowDefinition, flow_id: str, index: int, trigger: CronTrigger, base_url: str) -> dict[str, Any]:
    """The ecron job that fires cron trigger ``index`` of a flow: a POST to the flow's runs endpoint.

    ``scheduled_time`` is templated in only when the flow declares that param
    (a run with an undeclared param is refused).
    """
    params = dict(trigger.params)
    if "scheduled_time" in flow.params:
        params["scheduled_time"] = "{{scheduled_time}}"
    return {
        "name": ecron_job_name(flow_id, index),
        "schedule": {"cron": trigger.cron, "timezone": trigger.timezone},
        "action": {
            "type": "http",
            "method": "POST",
            "url": f"{base_url.rstrip('/')}/api/v1/flows/{flow_id}/runs",
            "body": {"params": params},
        },
    }
