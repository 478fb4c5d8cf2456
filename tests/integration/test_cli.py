"""The ``dataflow`` command and key rotation, against the running platform."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import httpx
import pytest

from tests.integration.fixtures.platform import Platform, wait_until
from tests.integration.fixtures.servers import REPO

pytestmark = pytest.mark.integration


def _dataflow(platform: Platform, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flow_automation.cli", *args],
        cwd=REPO,
        env=platform.env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_bootstrap_is_idempotent(platform: Platform) -> None:
    path = platform.state_dir / "credentials.json"
    before = path.read_text()
    result = _dataflow(platform, "bootstrap")
    assert result.returncode == 0, result.stderr
    assert path.read_text() == before
    credentials = json.loads(before)
    assert set(credentials) == {"client_id", "client_secret", "username", "password", "issuer"}
    assert credentials["issuer"] == platform.issuer
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_users_and_clients_created_by_the_cli_print_secrets_once(platform: Platform) -> None:
    user = _dataflow(platform, "users", "create", "ana", "--role", "editor")
    assert user.returncode == 0, user.stderr
    assert json.loads(user.stdout)["role"] == "editor" and len(json.loads(user.stdout)["password"]) >= 12

    duplicate = _dataflow(platform, "users", "create", "ana")
    assert duplicate.returncode == 2 and "exists already" in duplicate.stderr and "Traceback" not in duplicate.stderr

    created = _dataflow(platform, "clients", "create", "nightly export", "--scopes", "flows:read flows:run")
    assert created.returncode == 0, created.stderr
    client = json.loads(created.stdout)
    token = httpx.post(
        f"{platform.issuer}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(client["client_id"], client["client_secret"]),
        timeout=10,
    )
    assert token.status_code == 200 and token.json()["scope"] == "flows:read flows:run"

    listed = _dataflow(platform, "clients", "list")
    assert client["client_id"] in listed.stdout and client["client_secret"] not in listed.stdout

    bad_scope = _dataflow(platform, "clients", "create", "x", "--scopes", "root")
    assert bad_scope.returncode == 2 and "Unknown scope" in bad_scope.stderr


def test_rotated_key_signs_new_tokens_and_old_tokens_stay_valid(platform: Platform) -> None:
    old_token = platform.token()
    with platform.client("flow_automation") as client:
        rotated = client.post("/api/v1/keys/rotate")
        assert rotated.status_code == 200, rotated.text
        new_kid = rotated.json()["kid"]
        keys = client.get("/api/v1/keys").json()["items"]
    assert keys[0]["kid"] == new_kid and keys[0]["signing"]
    assert len(keys) >= 2 and keys[1]["retired_at"] is not None

    fresh = httpx.post(
        f"{platform.issuer}/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(platform.credentials["client_id"], platform.credentials["client_secret"]),
        timeout=10,
    ).json()["access_token"]
    header = json.loads(base64.urlsafe_b64decode(fresh.split(".")[0] + "=="))
    assert header["kid"] == new_kid

    def accepted(token: str) -> bool:
        response = httpx.get(
            platform.url("stream_pipeline") + "/api/v1/whoami", headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code == 200

    # Another service learns the new key from the JWKS on first sight of its kid.
    wait_until(lambda: accepted(fresh), timeout=15, message="the new key to be accepted")
    assert accepted(old_token)
    jwks = httpx.get(f"{platform.issuer}/oauth2/jwks", timeout=10).json()
    assert {key["kid"] for key in jwks["keys"]} >= {new_kid, keys[1]["kid"]}
