"""Health, readiness, metrics and OpenAPI on every service."""

from __future__ import annotations

import httpx
import pytest
from openapi_spec_validator import validate

from tests.integration.fixtures.platform import SERVICES, Platform

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("service", SERVICES)
def test_health_and_readiness(platform: Platform, service: str) -> None:
    health = httpx.get(platform.url(service) + "/healthz", timeout=10)
    assert health.status_code == 200 and health.json() == {"status": "ok", "service": service}
    ready = httpx.get(platform.url(service) + "/readyz", timeout=10)
    assert ready.status_code == 200, ready.text
    checks = ready.json()["checks"]
    assert checks and all(result == "ok" for result in checks.values())
    if service != "flow_web":
        assert {"mongodb", "kafka"} <= set(checks)


@pytest.mark.parametrize("service", SERVICES)
def test_openapi_document_is_valid_openapi_31(platform: Platform, service: str) -> None:
    document = httpx.get(platform.url(service) + "/openapi.json", timeout=10).json()
    assert document["openapi"] == "3.1.0"
    validate(document)
    whoami = document["paths"]["/api/v1/whoami"]["get"]
    assert whoami["security"] == [{"oauth2": []}]
    assert "401" in whoami["responses"]


def test_openapi_declares_scopes_and_bodies(platform: Platform) -> None:
    document = httpx.get(platform.url("flow_automation") + "/openapi.json", timeout=10).json()
    create = document["paths"]["/api/v1/clients"]["post"]
    assert create["security"] == [{"oauth2": ["admin"]}]
    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ClientCreate"
    }
    assert {"201", "400", "401", "403", "413", "415", "422"} <= set(create["responses"])
    assert "ClientCreate" in document["components"]["schemas"]


@pytest.mark.parametrize("service", SERVICES)
def test_metrics_count_requests_by_route_template(platform: Platform, service: str) -> None:
    httpx.get(platform.url(service) + "/healthz", timeout=10)
    text = httpx.get(platform.url(service) + "/metrics", timeout=10).text
    assert 'dataflow_http_requests_total{method="GET",route="/healthz",status="200"}' in text
    assert "dataflow_http_request_duration_seconds_bucket" in text
    assert f'service="{service}"' in text


def test_flow_web_serves_its_page(platform: Platform) -> None:
    response = httpx.get(platform.url("flow_web") + "/", timeout=10)
    assert response.status_code == 200
    assert "<title>Dataflow</title>" in response.text
