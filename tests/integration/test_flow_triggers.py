"""Flow triggers on the running platform: webhooks, Kafka triggers, ``dataflow.triggers`` and cron via ecron.

Only run creation is checked (no executor is needed): each trigger must start
exactly the runs it should, with the params it should, and never a second run
for a redelivered message.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

import httpx
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from common.kafka import TopicSpec, create_producer, ensure_topics
from common.settings import Settings
from tests.integration.fixtures.kafka import KAFKA_BOOTSTRAP
from tests.integration.fixtures.platform import wait_until

pytestmark = pytest.mark.integration

SETTINGS = Settings(kafka_bootstrap=KAFKA_BOOTSTRAP)
DEADLINE_S = 60


@pytest.fixture(scope="module")
def api(platform):
    with platform.client("flow_automation") as client:
        yield client


@pytest.fixture(scope="module")
def producer():
    producer = create_producer(SETTINGS)
    yield producer
    producer.close()


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def flow_body(flow_id: str, triggers: list[dict[str, Any]], **params: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": flow_id,
        "name": flow_id,
        "params": params,
        "nodes": [{"id": "a", "type": "noop"}],
        "triggers": triggers,
    }


def create_flow(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/api/v1/flows", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def save_flow(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.put(f"/api/v1/flows/{body['id']}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def triggers_of(api: httpx.Client, flow_id: str) -> list[dict[str, Any]]:
    response = api.get(f"/api/v1/flows/{flow_id}")
    assert response.status_code == 200, response.text
    return response.json()["triggers"]


def runs_of(api: httpx.Client, flow_id: str) -> list[dict[str, Any]]:
    response = api.get("/api/v1/runs", params={"flow": flow_id, "limit": 500})
    assert response.status_code == 200, response.text
    return response.json()["items"]


def wait_for_trigger(api: httpx.Client, flow_id: str, index: int, status: str) -> dict[str, Any]:
    return wait_until(
        lambda: (entry := triggers_of(api, flow_id)[index])["status"] == status and entry,
        timeout=DEADLINE_S,
        interval=0.3,
        message=f"trigger {index} of {flow_id} to be {status}",
    )


def wait_for_runs(api: httpx.Client, flow_id: str, count: int) -> list[dict[str, Any]]:
    return wait_until(
        lambda: len(runs := runs_of(api, flow_id)) >= count and runs,
        timeout=DEADLINE_S,
        interval=0.3,
        message=f"{count} runs of {flow_id}",
    )


# -- webhooks ------------------------------------------------------------------------------


def test_webhook_url_is_stable_across_saves_and_its_token_stored_hashed(platform, api) -> None:
    flow_id = unique("hook-stable")
    body = flow_body(flow_id, [{"type": "webhook"}], n={"type": "integer"})
    create_flow(api, body)
    [state] = triggers_of(api, flow_id)
    assert state["type"] == "webhook" and state["status"] == "active"
    assert state["url"].startswith(f"{platform.issuer}/hooks/")
    token = state["url"].rsplit("/", 1)[1]
    assert len(token) >= 43

    saved = save_flow(api, {**body, "description": "a second version"})
    assert saved["created_version"] is True
    assert triggers_of(api, flow_id)[0]["url"] == state["url"]

    stored = list(platform.mongo_db()["webhook_tokens"].find({"flow_id": flow_id}))
    assert [doc["_id"] for doc in stored] == [hashlib.sha256(token.encode()).hexdigest()]
    assert token not in json.dumps(stored, default=str)


def test_webhook_post_starts_a_run_with_the_body_as_params(platform, api) -> None:
    flow_id = unique("hook-run")
    create_flow(api, flow_body(flow_id, [{"type": "webhook"}], n={"type": "integer"}, who={"default": "nobody"}))
    url = triggers_of(api, flow_id)[0]["url"]

    response = httpx.post(url, json={"n": "3"}, timeout=30)  # no bearer token: the URL is the credential
    assert response.status_code == 201, response.text
    run = api.get(f"/api/v1/runs/{response.json()['run_id']}").json()
    assert run["flow_id"] == flow_id
    assert run["params"] == {"n": 3, "who": "nobody"}
    assert run["trigger"] == {"type": "webhook", "index": 0}

    token = url.rsplit("/", 1)[1]
    logged = platform.services["flow_automation"].log_path.read_text(errors="replace")
    assert token not in logged
    assert "/hooks/<token>" in logged


def test_webhook_refuses_unknown_tokens_and_bad_bodies(api) -> None:
    flow_id = unique("hook-bad")
    create_flow(api, flow_body(flow_id, [{"type": "webhook"}], n={"type": "integer"}))
    url = triggers_of(api, flow_id)[0]["url"]
    base = url.rsplit("/", 1)[0]

    unknown = httpx.post(f"{base}/not-a-token", json={}, timeout=30)
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "not_found"
    malformed = httpx.post(url, content=b"{nope", headers={"Content-Type": "application/json"}, timeout=30)
    assert malformed.status_code == 400
    assert httpx.post(url, json=[1, 2], timeout=30).status_code == 400
    wrong_type = httpx.post(url, json={"n": "many"}, timeout=30)
    assert wrong_type.status_code == 422
    assert wrong_type.json()["error"]["details"]["errors"][0]["field"] == "params.n"
    assert httpx.post(url, json={"m": 1}, timeout=30).status_code == 422
    assert runs_of(api, flow_id) == []


def test_idempotency_key_returns_the_first_run(api) -> None:
    flow_id = unique("hook-idem")
    create_flow(api, flow_body(flow_id, [{"type": "webhook"}], n={"type": "integer"}))
    url = triggers_of(api, flow_id)[0]["url"]

    first = httpx.post(url, json={"n": 1}, headers={"Idempotency-Key": "delivery-1"}, timeout=30)
    again = httpx.post(url, json={"n": 1}, headers={"Idempotency-Key": "delivery-1"}, timeout=30)
    other = httpx.post(url, json={"n": 2}, headers={"Idempotency-Key": "delivery-2"}, timeout=30)
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 201)
    assert again.json() == {"run_id": first.json()["run_id"], "created": False}
    assert other.json()["run_id"] != first.json()["run_id"]
    assert len(runs_of(api, flow_id)) == 2


def test_disabled_removed_and_deleted_webhooks_answer_404(platform, api) -> None:
    flow_id = unique("hook-gone")
    body = flow_body(flow_id, [{"type": "webhook"}])
    create_flow(api, body)
    url = triggers_of(api, flow_id)[0]["url"]

    save_flow(api, {**body, "triggers": [{"type": "webhook", "enabled": False}]})
    assert triggers_of(api, flow_id)[0] == {**triggers_of(api, flow_id)[0], "url": url, "status": "disabled"}
    assert httpx.post(url, json={}, timeout=30).status_code == 404

    save_flow(api, {**body, "triggers": []})
    assert triggers_of(api, flow_id) == []
    assert httpx.post(url, json={}, timeout=30).status_code == 404

    save_flow(api, body)
    new_url = triggers_of(api, flow_id)[0]["url"]
    assert new_url != url
    assert httpx.post(new_url, timeout=30).status_code == 201  # an empty body: no params

    assert api.delete(f"/api/v1/flows/{flow_id}", params={"force": "true"}).status_code == 200
    assert httpx.post(new_url, json={}, timeout=30).status_code == 404
    assert platform.mongo_db()["webhook_tokens"].count_documents({"flow_id": flow_id}) == 0


# -- Kafka triggers ------------------------------------------------------------------------


def fresh_topic(prefix: str = "trigger") -> str:
    name = f"test.{prefix}.{uuid.uuid4().hex[:10]}"
    ensure_topics(SETTINGS, [TopicSpec(name=name, partitions=1)])
    return name


def rewind_group(group: str, topic: str) -> None:
    """Commit offset 0 for the (then idle) group: everything on the topic is delivered again."""
    consumer = KafkaConsumer(bootstrap_servers=KAFKA_BOOTSTRAP, group_id=group, enable_auto_commit=False)
    try:
        partition = TopicPartition(topic, 0)
        consumer.assign([partition])

        def commit() -> bool:
            consumer.commit({partition: OffsetAndMetadata(0, "", -1)})
            return True

        wait_until(commit, timeout=DEADLINE_S, interval=1.0, message=f"group {group} to be idle so it can be rewound")
    finally:
        consumer.close(autocommit=False)


def test_kafka_trigger_starts_one_run_per_message_and_skips_bad_ones(api, producer) -> None:
    topic = fresh_topic()
    flow_id = unique("kafka-orders")
    trigger = {"type": "kafka", "topic": topic, "dedupe_key": "id", "params": {"region": "eu"}}
    body = flow_body(flow_id, [trigger], id={"type": "string"}, amount={"type": "integer"}, region={})
    create_flow(api, body)
    state = wait_for_trigger(api, flow_id, 0, "active")
    assert state["group"] == f"dataflow.trigger.{flow_id}"

    for value in (
        {"id": "e1", "amount": 1},
        {"id": "e2", "amount": 2},
        {"id": "e2", "amount": 2},  # the producer sent it twice: same dedupe field
        b"{not json",
        {"id": "e3", "amount": "lots"},  # params the flow refuses
        {"id": "e4", "amount": 4, "region": "us"},
    ):
        producer.send(topic, value=value)
    producer.flush()

    runs = wait_for_runs(api, flow_id, 3)
    wait_until(
        lambda: triggers_of(api, flow_id)[0].get("skipped") == 2,
        timeout=DEADLINE_S,
        message="both bad messages counted as skipped",
    )
    runs = runs_of(api, flow_id)
    assert sorted((r["params"]["id"], r["params"]["amount"], r["params"]["region"]) for r in runs) == [
        ("e1", 1, "eu"),
        ("e2", 2, "eu"),
        ("e4", 4, "us"),
    ]
    assert all(r["trigger"]["type"] == "kafka" and r["trigger"]["topic"] == topic for r in runs)
    assert triggers_of(api, flow_id)[0]["last_skipped"]


def test_redelivered_messages_start_no_second_run(api, producer) -> None:
    topic = fresh_topic()
    flow_id = unique("kafka-redeliver")
    body = flow_body(flow_id, [{"type": "kafka", "topic": topic}], n={"type": "integer"})
    create_flow(api, body)
    group = wait_for_trigger(api, flow_id, 0, "active")["group"]
    producer.send(topic, value=b"garbage")
    for n in range(3):
        producer.send(topic, value={"n": n})
    producer.flush()
    first = wait_for_runs(api, flow_id, 3)

    disabled = {**body, "triggers": [{"type": "kafka", "topic": topic, "enabled": False}]}
    save_flow(api, disabled)
    assert triggers_of(api, flow_id)[0]["status"] == "disabled"
    rewind_group(group, topic)
    save_flow(api, body)
    wait_for_trigger(api, flow_id, 0, "active")
    producer.send(topic, value={"n": 3})
    producer.flush()

    runs = wait_for_runs(api, flow_id, 4)
    # The rewound messages came before n=3 on the one partition, so they were all seen by now.
    assert sorted(r["params"]["n"] for r in runs) == [0, 1, 2, 3]
    assert {r["id"] for r in first} <= {r["id"] for r in runs}
    # The garbage message was delivered (and skipped) again: the rewind did redeliver everything.
    assert triggers_of(api, flow_id)[0]["skipped"] == 1


def test_kafka_trigger_on_a_missing_topic_reports_it_and_starts_once_created(api, producer) -> None:
    topic = f"test.missing.{uuid.uuid4().hex[:10]}"
    flow_id = unique("kafka-missing")
    create_flow(api, flow_body(flow_id, [{"type": "kafka", "topic": topic}], n={"type": "integer"}))
    state = wait_for_trigger(api, flow_id, 0, "error")
    assert "topic does not exist" in state["message"]

    ensure_topics(SETTINGS, [TopicSpec(name=topic, partitions=1)])
    wait_for_trigger(api, flow_id, 0, "active")
    producer.send(topic, value={"n": 7})
    producer.flush()
    [run] = wait_for_runs(api, flow_id, 1)
    assert run["params"] == {"n": 7}


def test_scalar_messages_arrive_as_the_message_param(api, producer) -> None:
    topic = fresh_topic()
    flow_id = unique("kafka-scalar")
    create_flow(api, flow_body(flow_id, [{"type": "kafka", "topic": topic}], message={"type": "number"}))
    wait_for_trigger(api, flow_id, 0, "active")
    producer.send(topic, value=b"42")
    producer.flush()
    [run] = wait_for_runs(api, flow_id, 1)
    assert run["params"] == {"message": 42}


# -- dataflow.triggers ---------------------------------------------------------------------


def test_trigger_requests_on_the_triggers_topic_start_runs(api, producer) -> None:
    flow_id = unique("requested")
    create_flow(api, flow_body(flow_id, [], n={"type": "integer"}))
    # Keyed by flow id: one partition, so the messages are handled in this order.
    for value in (
        {"flow_id": flow_id, "params": {"n": 1}, "dedupe_key": "order-1"},
        {"flow_id": flow_id, "params": {"n": 1}, "dedupe_key": "order-1"},
        b"\x00not json",
        {"flow_id": flow_id, "params": {"n": "x"}},
        {"flow_id": flow_id, "params": {"n": 2}, "version": 1},
    ):
        producer.send("dataflow.triggers", key=flow_id, value=value)
    producer.flush()

    runs = wait_for_runs(api, flow_id, 2)
    assert sorted(r["params"]["n"] for r in runs) == [1, 2]
    assert all(r["trigger"]["type"] == "event" and r["trigger"]["topic"] == "dataflow.triggers" for r in runs)


# -- cron via ecron ------------------------------------------------------------------------


def ecron_takes_jobs(platform) -> bool:
    with platform.client("ecron") as ecron:
        probe = {
            "name": unique("probe"),
            "schedule": {"cron": "0 0 1 1 *", "timezone": "UTC"},
            "action": {"type": "http", "method": "POST", "url": "http://127.0.0.1:9/none", "body": {}},
        }
        response = ecron.post("/api/v1/jobs", json=probe)
        if response.status_code >= 300:
            return False
        ecron.delete(f"/api/v1/jobs/{response.json().get('id')}")
        return True


def test_cron_trigger_becomes_an_ecron_job_or_waits_as_pending(platform, api) -> None:
    flow_id = unique("cron")
    cron = {"type": "cron", "cron": "*/5 * * * *", "timezone": "Europe/Paris", "params": {"region": "eu"}}
    body = flow_body(flow_id, [cron], scheduled_time={"type": "datetime"}, region={})
    create_flow(api, body)  # never refused because of ecron
    [state] = triggers_of(api, flow_id)
    assert (state["type"], state["cron"], state["job_name"]) == ("cron", "*/5 * * * *", f"flow:{flow_id}:0")
    jobs = platform.mongo_db()["trigger_cron_jobs"]
    stored = jobs.find_one({"_id": f"flow:{flow_id}:0"})
    assert stored["job"]["action"]["url"] == f"{platform.url('flow_automation')}/api/v1/flows/{flow_id}/runs"
    assert stored["job"]["action"]["body"] == {"params": {"region": "eu", "scheduled_time": "{{scheduled_time}}"}}

    if ecron_takes_jobs(platform):
        assert state["status"] == "active" and state["ecron_job_id"]
        with platform.client("ecron") as ecron:
            job = ecron.get(f"/api/v1/jobs/{state['ecron_job_id']}").json()
            assert job["action"]["url"] == stored["job"]["action"]["url"]
            save_flow(api, {**body, "triggers": []})
            assert ecron.get(f"/api/v1/jobs/{state['ecron_job_id']}").status_code == 404
    else:
        assert state["status"] == "pending"
        assert "ecron" in state["message"]
        save_flow(api, {**body, "triggers": []})
    assert triggers_of(api, flow_id) == []
    assert jobs.count_documents({"flow_id": flow_id}) == 0
