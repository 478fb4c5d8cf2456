"""ecron's API on the real platform: CRUD and validation, preview, HTTP and Kafka actions, pause, run, retries."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import datetime

import httpx
import pytest
from kafka import KafkaConsumer

from tests.integration.fixtures.kafka import KAFKA_BOOTSTRAP
from tests.integration.fixtures.platform import Platform, wait_until
from tests.integration.test_ecron_support import (
    Target,
    every_second_job,
    execution_list,
    recording_target,
    wait_for_execution,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def cron(platform: Platform) -> httpx.Client:
    with platform.client("ecron") as client:
        yield client


@pytest.fixture
def target() -> Target:
    with recording_target() as recorder:
        yield recorder


def create(client: httpx.Client, spec: dict) -> dict:
    response = client.post("/api/v1/jobs", json=spec)
    assert response.status_code == 201, response.text
    return response.json()


def test_job_crud_round_trip(cron: httpx.Client) -> None:
    spec = {
        "name": "nightly-report",
        "schedule": {"cron": "0 6 * * *", "timezone": "Asia/Seoul"},
        "action": {
            "type": "http",
            "method": "POST",
            "url": "http://127.0.0.1:8081/api/v1/flows/sales/runs",
            "body": {"params": {"day": "{{scheduled_time}}"}},
        },
        "labels": {"flow_id": "sales"},
    }
    job = create(cron, spec)
    assert job["state"] == "active" and job["revision"] == 1
    assert datetime.fromisoformat(job["next_fire_at"]).hour == 21  # 06:00 in Seoul is 21:00 UTC
    assert cron.get(f"/api/v1/jobs/{job['id']}").json()["name"] == "nightly-report"
    listed = cron.get("/api/v1/jobs", params={"label": "flow_id=sales"}).json()["items"]
    assert [item["id"] for item in listed] == [job["id"]]

    changed = cron.put(f"/api/v1/jobs/{job['id']}", json={**spec, "schedule": {"cron": "@hourly"}})
    assert changed.status_code == 200 and changed.json()["revision"] == 2
    assert changed.json()["schedules"][0]["cron"] == "@hourly"

    assert cron.delete(f"/api/v1/jobs/{job['id']}").status_code == 204
    gone = cron.get(f"/api/v1/jobs/{job['id']}")
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("schedule", "reason"),
    [
        ({"cron": "0 25 * * *"}, "higher than the maximum"),
        ({"cron": "every day"}, "has 2 fields"),
        ({"cron": "0 6 * * *", "timezone": "Asia/Nowhere"}, "unknown timezone"),
        ({"interval": {"seconds": 0.5}}, "at least one second"),
    ],
)
def test_invalid_schedule_is_422_with_the_parsers_reason(cron: httpx.Client, schedule: dict, reason: str) -> None:
    response = cron.post(
        "/api/v1/jobs", json={"name": "bad", "schedule": schedule, "action": {"type": "kafka", "topic": "t"}}
    )
    assert response.status_code == 422, response.text
    assert reason in json.dumps(response.json()["error"]["details"])


def test_bad_requests_get_clear_errors(platform: Platform, cron: httpx.Client) -> None:
    malformed = cron.post("/api/v1/jobs", content=b"{nope", headers={"Content-Type": "application/json"})
    assert malformed.status_code == 400 and malformed.json()["error"]["code"] == "invalid_argument"
    unknown_field = cron.post(
        "/api/v1/jobs",
        json={"name": "x", "schedule": {"cron": "@daily"}, "action": {"type": "kafka", "topic": "t"}, "colour": 1},
    )
    assert unknown_field.status_code == 422
    bad_action = cron.post(
        "/api/v1/jobs", json={"name": "x", "schedule": {"cron": "@daily"}, "action": {"type": "ftp"}}
    )
    assert bad_action.status_code == 422
    assert cron.post("/api/v1/jobs/nope/run").status_code == 404
    assert cron.get("/api/v1/executions/nope@x").status_code == 404
    with platform.client("ecron", scopes="cron:read") as reader:
        refused = reader.post("/api/v1/jobs", json={"name": "x"})
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
    assert httpx.get(f"{platform.url('ecron')}/api/v1/jobs").status_code == 401


def test_preview_lists_fire_times_with_offsets(cron: httpx.Client) -> None:
    response = cron.post(
        "/api/v1/schedules/preview",
        json={"schedule": {"cron": "*/5 * * * *", "timezone": "UTC", "start_date": "2027-01-01T00:00:00"}, "count": 12},
    )
    assert response.status_code == 200, response.text
    times = response.json()["fire_times"]
    assert times[0] == "2027-01-01T00:00:00+00:00" and times[11] == "2027-01-01T00:55:00+00:00"
    seoul = cron.post(
        "/api/v1/schedules/preview",
        json={
            "schedules": [{"cron": "0 9 * * 1-5", "timezone": "Asia/Seoul"}],
            "after": "2026-12-31T23:00:00Z",
            "count": 2,
        },
    )
    assert seoul.json()["fire_times"] == ["2027-01-01T09:00:00+09:00", "2027-01-04T09:00:00+09:00"]
    invalid = cron.post("/api/v1/schedules/preview", json={"schedule": {"cron": "* * * * * * *"}})
    assert invalid.status_code == 422


def test_http_action_fills_templates_and_records_executions(cron: httpx.Client, target: Target) -> None:
    job = create(
        cron,
        every_second_job(
            "http-every-second",
            {
                "type": "http",
                "url": f"{target.url}/hook",
                "headers": {"X-Job": "{{job_id}}"},
                "body": {"params": {"day": "{{scheduled_time}}", "run": "{{execution_id}}"}},
            },
        ),
    )
    wait_until(lambda: len(target.matching("/hook")) >= 3, timeout=90, message="three deliveries")
    cron.delete(f"/api/v1/jobs/{job['id']}")
    request = target.matching("/hook")[0]
    assert request["method"] == "POST" and request["headers"]["x-job"] == job["id"]
    execution_id = request["body"]["params"]["run"]
    assert request["headers"]["x-ecron-execution-id"] == execution_id
    assert execution_id.startswith(job["id"] + "@")
    scheduled = datetime.fromisoformat(request["body"]["params"]["day"])
    assert scheduled.microsecond == 0 and scheduled.utcoffset() is not None


def test_http_action_history_shows_outcomes(cron: httpx.Client, target: Target) -> None:
    job = create(cron, every_second_job("history", {"type": "http", "method": "PUT", "url": f"{target.url}/h"}))

    def succeeded() -> list[dict]:
        done = [e for e in execution_list(cron, job["id"]) if e["status"] == "succeeded"]
        return done if len(done) >= 2 else []

    done = wait_until(succeeded, timeout=90, message="two succeeded executions")
    cron.post(f"/api/v1/jobs/{job['id']}/pause")
    first = done[-1]
    assert first["response"]["status_code"] == 200 and first["attempt"] == 1 and first["node"]
    assert datetime.fromisoformat(first["fired_at"]) >= datetime.fromisoformat(first["scheduled_time"])
    times = [e["scheduled_time"] for e in execution_list(cron, job["id"])]
    assert times == sorted(times, reverse=True) and len(times) == len(set(times))


def test_kafka_action_message_is_read_back(cron: httpx.Client, new_topic: Callable[..., str]) -> None:
    topic = new_topic()
    job = create(
        cron,
        every_second_job(
            "kafka-every-second",
            {"type": "kafka", "topic": topic, "key": "{{job_id}}", "value": {"at": "{{scheduled_time}}", "n": 1}},
        ),
    )
    consumer = KafkaConsumer(
        topic, bootstrap_servers=KAFKA_BOOTSTRAP, auto_offset_reset="earliest", consumer_timeout_ms=1000, group_id=None
    )
    try:
        messages: list = []
        deadline = time.monotonic() + 30
        while len(messages) < 2 and time.monotonic() < deadline:
            messages += list(consumer)
    finally:
        consumer.close()
        cron.delete(f"/api/v1/jobs/{job['id']}")
    assert len(messages) >= 2
    value = json.loads(messages[0].value)
    assert messages[0].key.decode() == job["id"] and value["n"] == 1
    assert datetime.fromisoformat(value["at"]).utcoffset() is not None
    assert dict(messages[0].headers)["ecron-execution-id"].decode().startswith(job["id"] + "@")


def test_kafka_action_to_a_missing_topic_is_a_recorded_failure(cron: httpx.Client) -> None:
    job = create(
        cron,
        {
            "name": "no-topic",
            "schedule": {"cron": "@yearly"},
            "action": {"type": "kafka", "topic": "ecron.missing.topic", "value": {}, "timeout_s": 2},
            "retry": {"max_attempts": 1},
        },
    )
    run = cron.post(f"/api/v1/jobs/{job['id']}/run")
    assert run.status_code == 202
    execution = wait_for_execution(cron, run.json()["execution"]["id"], timeout=60)
    cron.delete(f"/api/v1/jobs/{job['id']}")
    assert execution["status"] == "failed" and "ecron.missing.topic" in execution["error"]


def test_kafka_message_the_producer_refuses_is_retried_then_recorded(
    cron: httpx.Client, new_topic: Callable[..., str]
) -> None:
    # Larger than the producer's max_request_size (1 MiB): kafka-python refuses it when it is sent, both in a
    # worker thread (the first slot, before the producer knows the topic) and in the firing pass (later slots).
    topic = new_topic()
    job = create(
        cron,
        every_second_job(
            "too-large",
            {"type": "kafka", "topic": topic, "value": {"blob": "x" * 1_200_000}},
            retry={"max_attempts": 2, "backoff_s": 0},
        ),
    )

    def failed_twice() -> list[dict] | None:
        finished = [e for e in execution_list(cron, job["id"]) if e["status"] not in ("claimed", "running")]
        return finished if len(finished) >= 3 else None

    try:
        executions = wait_until(failed_twice, timeout=30, interval=0.5, message="three finished executions")
    finally:
        cron.delete(f"/api/v1/jobs/{job['id']}")
    for execution in executions:
        assert execution["status"] == "failed" and execution["attempt"] == 2, execution
        assert "MessageSizeTooLargeError" in execution["error"] and topic in execution["error"]
        assert len(execution["attempt_errors"]) == 2


def test_pause_stops_firing_and_resume_starts_again(cron: httpx.Client, target: Target) -> None:
    job = create(cron, every_second_job("pausable", {"type": "http", "url": f"{target.url}/pause"}))
    wait_until(lambda: len(target.matching("/pause")) >= 2, timeout=90, message="first deliveries")
    paused = cron.post(f"/api/v1/jobs/{job['id']}/pause")
    assert paused.status_code == 200 and paused.json()["state"] == "paused"
    time.sleep(1.5)  # a slot claimed just before the pause may still fire
    count = len(target.matching("/pause"))
    time.sleep(3)
    assert len(target.matching("/pause")) == count, "a paused job fired"
    resumed = cron.post(f"/api/v1/jobs/{job['id']}/resume")
    assert resumed.status_code == 200 and resumed.json()["state"] == "active"
    wait_until(lambda: len(target.matching("/pause")) >= count + 2, timeout=90, message="deliveries after resume")
    cron.delete(f"/api/v1/jobs/{job['id']}")


def test_immediate_run_fires_outside_the_schedule_with_a_service_token(platform: Platform, cron: httpx.Client) -> None:
    job = create(
        cron,
        {
            "name": "whoami",
            "schedule": {"cron": "0 0 1 1 *"},
            "action": {"type": "http", "method": "GET", "url": f"{platform.url('ecron')}/api/v1/whoami"},
        },
    )
    run = cron.post(f"/api/v1/jobs/{job['id']}/run")
    assert run.status_code == 202, run.text
    execution = wait_for_execution(cron, run.json()["execution"]["id"])
    assert execution["trigger"] == "manual" and execution["status"] == "succeeded"
    # The target is a Dataflow service, so ecron added its own client-credentials token.
    assert json.loads(execution["response"]["body"])["client_id"] == platform.credentials["client_id"]
    cron.delete(f"/api/v1/jobs/{job['id']}")


def test_failing_target_is_retried_with_backoff_then_recorded(cron: httpx.Client, target: Target) -> None:
    job = create(
        cron,
        {
            "name": "failing",
            "schedule": {"cron": "0 0 1 1 *"},
            "action": {"type": "http", "url": f"{target.url}/fail"},
            "retry": {"max_attempts": 3, "backoff_s": 0.2},
        },
    )
    run = cron.post(f"/api/v1/jobs/{job['id']}/run")
    execution = wait_for_execution(cron, run.json()["execution"]["id"])
    cron.delete(f"/api/v1/jobs/{job['id']}")
    assert execution["status"] == "failed" and execution["attempt"] == 3
    assert len(execution["attempt_errors"]) == 3 and "500" in execution["error"]
    assert len(target.matching("/fail")) == 3
    gaps = [b["at"] - a["at"] for a, b in zip(target.matching("/fail"), target.matching("/fail")[1:], strict=False)]
    assert gaps[1] >= gaps[0] * 1.5 or gaps[1] >= 0.35  # 0.2 s then 0.4 s


def test_hanging_target_fails_on_timeout_without_blocking_other_jobs(cron: httpx.Client, target: Target) -> None:
    hanging = create(
        cron,
        every_second_job(
            "hanging",
            {"type": "http", "url": f"{target.url}/slow?s=6", "timeout_s": 3},
            retry={"max_attempts": 1},
            misfire={"policy": "run_once", "grace_s": 0.5},
        ),
    )
    healthy = create(cron, every_second_job("healthy", {"type": "http", "url": f"{target.url}/healthy"}))
    wait_until(lambda: len(target.matching("/healthy")) >= 3, timeout=90, message="the healthy job to keep firing")

    def a_timeout() -> dict | None:
        failed = [e for e in execution_list(cron, hanging["id"]) if e["status"] == "failed"]
        return failed[0] if failed else None

    failed = wait_until(a_timeout, timeout=90, message="a timed-out execution")
    cron.post(f"/api/v1/jobs/{hanging['id']}/pause")
    cron.post(f"/api/v1/jobs/{healthy['id']}/pause")
    assert "timed out" in failed["error"]
    statuses = {e["status"] for e in execution_list(cron, hanging["id"])}
    # max_concurrent=1 (the default): slots that came while a request hung longer than the grace were skipped.
    assert "skipped" in statuses


def test_nodes_lists_the_live_node(cron: httpx.Client) -> None:
    nodes = cron.get("/api/v1/nodes").json()["items"]
    assert any(node["alive"] for node in nodes)
    node = nodes[0]
    assert datetime.fromisoformat(node["lease_expires_at"]) > datetime.fromisoformat(node["heartbeat_at"])
