"""Pure rules of flow triggers: params from messages, dedupe keys, trigger requests, ecron job bodies."""

from __future__ import annotations

import httpx
import pytest

from flow_automation.flows.model import CronTrigger, FlowDefinition
from flow_automation.triggers.cron import ACTIVE, ERROR, PENDING, classify
from flow_automation.triggers.kafka import default_group, orchestrator_group
from flow_automation.triggers.messages import (
    BadMessage,
    bounded_key,
    decode_json,
    ecron_job,
    field_value,
    kafka_dedupe_key,
    merge_params,
    message_params,
    trigger_request,
    webhook_dedupe_key,
)
from flow_automation.triggers.webhooks import token_from_url, token_hash


def test_message_params_takes_an_object_as_is_and_wraps_anything_else():
    assert message_params({"a": 1}) == {"a": 1}
    assert message_params(5) == {"message": 5}
    assert message_params([1, 2]) == {"message": [1, 2]}
    assert message_params("text") == {"message": "text"}


def test_message_params_are_merged_over_the_trigger_params():
    assert merge_params({"region": "eu", "limit": 5}, {"limit": 9}) == {"region": "eu", "limit": 9}
    assert merge_params({}, {"x": 1}) == {"x": 1}


@pytest.mark.parametrize("value", [None, b"", b"  ", b"{not json", b"\xff\xfe"])
def test_decode_json_refuses_empty_and_malformed_values(value):
    with pytest.raises(BadMessage):
        decode_json(value)


def test_field_value_follows_dotted_paths_through_objects_and_arrays():
    payload = {"order": {"id": "A-1", "items": [{"sku": "x"}]}}
    assert field_value(payload, "order.id") == "A-1"
    assert field_value(payload, "order.items.0.sku") == "x"
    assert field_value(payload, "order.items.3.sku") is None
    assert field_value(payload, "order.missing") is None
    assert field_value(7, "id") is None


def test_kafka_dedupe_key_uses_the_field_value_when_present():
    same = [
        kafka_dedupe_key("f", topic="t", partition=p, offset=o, payload={"id": "e1"}, dedupe_field="id")
        for p, o in ((0, 1), (2, 99))
    ]
    assert same[0] == same[1] == "kafka:f:field:e1"
    numeric = kafka_dedupe_key("f", topic="t", partition=0, offset=1, payload={"id": 17}, dedupe_field="id")
    assert numeric == "kafka:f:field:17"


def test_kafka_dedupe_key_falls_back_to_the_message_position():
    missing = kafka_dedupe_key("f", topic="t", partition=2, offset=40, payload={"x": 1}, dedupe_field="id")
    unset = kafka_dedupe_key("f", topic="t", partition=2, offset=40, payload={"id": "e1"}, dedupe_field=None)
    nested = kafka_dedupe_key("f", topic="t", partition=2, offset=40, payload={"id": {"a": 1}}, dedupe_field="id")
    assert missing == unset == nested == "kafka:f:t:2:40"
    other_flow = kafka_dedupe_key("g", topic="t", partition=2, offset=40, payload={}, dedupe_field=None)
    assert other_flow != missing


def test_long_keys_are_hashed_to_a_bounded_length():
    long_key = bounded_key("k" * 1000)
    assert long_key.startswith("sha256:") and len(long_key) < 100
    assert bounded_key("short") == "short"
    assert webhook_dedupe_key("f", "abc") == "webhook:f:abc"


def test_trigger_request_defaults_and_dedupe_keys():
    request = trigger_request({"flow_id": "f", "params": {"a": 1}}, partition=1, offset=7)
    assert (request.flow_id, request.params, request.version) == ("f", {"a": 1}, None)
    assert request.dedupe_key == "triggers:1:7"
    keyed = trigger_request({"flow_id": "f", "version": 2, "dedupe_key": "order-9"}, partition=1, offset=8)
    assert (keyed.params, keyed.version, keyed.dedupe_key) == ({}, 2, "triggers:f:order-9")


@pytest.mark.parametrize(
    "payload",
    [
        [1],
        {},
        {"flow_id": 5},
        {"flow_id": "f", "params": [1]},
        {"flow_id": "f", "version": 0},
        {"flow_id": "f", "version": True},
        {"flow_id": "f", "dedupe_key": ""},
    ],
)
def test_trigger_request_refuses_bad_shapes(payload):
    with pytest.raises(BadMessage):
        trigger_request(payload, partition=0, offset=0)


def _flow(params: dict) -> FlowDefinition:
    return FlowDefinition.model_validate({"name": "x", "params": params, "nodes": [{"id": "a", "type": "noop"}]})


def test_ecron_job_templates_scheduled_time_only_when_the_flow_declares_it():
    trigger = CronTrigger(type="cron", cron="0 6 * * *", timezone="Asia/Seoul", params={"day": "mon"})
    job = ecron_job(_flow({"scheduled_time": {"type": "datetime"}}), "sales", 2, trigger, "http://fa:8081/")
    assert job["name"] == "flow:sales:2"
    assert job["schedule"] == {"cron": "0 6 * * *", "timezone": "Asia/Seoul"}
    assert job["action"] == {
        "type": "http",
        "method": "POST",
        "url": "http://fa:8081/api/v1/flows/sales/runs",
        "body": {"params": {"day": "mon", "scheduled_time": "{{scheduled_time}}"}},
    }
    plain = ecron_job(_flow({}), "sales", 0, trigger, "http://fa:8081")
    assert plain["action"]["body"] == {"params": {"day": "mon"}}


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (201, {"id": "j1"}, ACTIVE),
        (200, {"id": "j1"}, ACTIVE),
        (404, {}, PENDING),
        (405, {}, PENDING),
        (503, {}, PENDING),
        (422, {"error": {"message": "bad cron"}}, ERROR),
        (403, {}, ERROR),
    ],
)
def test_ecron_answers_map_to_trigger_states(status, body, expected):
    outcome = classify(httpx.Response(status, json=body))
    assert outcome.status == expected
    if status < 300:
        assert outcome.job_id == "j1"
    if status == 422:
        assert "bad cron" in (outcome.message or "")


def test_consumer_group_names():
    assert default_group("sales") == "dataflow.trigger.sales"
    assert orchestrator_group("dataflow") == "dataflow.orchestrator.triggers"
    assert orchestrator_group("dataflow_test_1") == "dataflow.orchestrator.triggers.dataflow_test_1"


def test_webhook_token_helpers():
    assert token_from_url("http://x/hooks/abc") == "abc"
    assert token_from_url("http://x/other") is None
    assert token_from_url(None) is None
    assert token_hash("abc") != "abc" and len(token_hash("abc")) == 64
