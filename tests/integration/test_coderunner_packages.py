"""Sandbox packages: allowlist, pinned install, import policy, failure isolation, restore on restart."""

from __future__ import annotations

import base64
import hashlib
import signal
import zipfile
from pathlib import Path

import httpx
import pytest

from tests.integration.fixtures.platform import Platform, wait_until

pytestmark = pytest.mark.integration

PACKAGE = "df-tiny-shout"
MODULE = "dftinyshout"


def build_wheel(wheelhouse: Path, version: str, body: str) -> Path:
    """A real, minimal pure-Python wheel, built here so pip never needs the network."""
    project = PACKAGE.replace("-", "_")
    dist_info = f"{project}-{version}.dist-info"
    files = {
        f"{MODULE}/__init__.py": body,
        f"{dist_info}/METADATA": f"Metadata-Version: 2.1\nName: {PACKAGE}\nVersion: {version}\n",
        f"{dist_info}/WHEEL": (
            "Wheel-Version: 1.0\nGenerator: dataflow-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    record.append(f"{dist_info}/RECORD,,")
    files[f"{dist_info}/RECORD"] = "\n".join(record) + "\n"
    path = wheelhouse / f"{project}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for name, text in files.items():
            wheel.writestr(name, text)
    return path


def run(client: httpx.Client, code: str) -> dict:
    response = client.post("/api/v1/execute", json={"code": code, "timeout_s": 30})
    assert response.status_code == 200, response.text
    return response.json()


def test_allowlisted_package_installs_imports_survives_failures_and_restarts(platform: Platform) -> None:
    wheelhouse = platform.state_dir / "wheelhouse"
    build_wheel(wheelhouse, "1.0.0", "def shout(text):\n    return text.upper() + '!'\n")
    use_it = f"from {MODULE} import shout\nresult = shout('hi')"

    with platform.client("coderunner") as admin:
        refused = admin.post("/api/v1/packages", json={"name": PACKAGE, "version": "1.0.0"})
        assert refused.status_code == 422 and "allowlist" in refused.json()["error"]["message"]

        allowed = admin.put(f"/api/v1/packages/allowlist/{PACKAGE}", json={"import_names": [MODULE]})
        assert allowed.status_code == 200, allowed.text
        assert run(admin, use_it)["error"]["type"] == "SandboxViolation"  # allowed, not installed yet

        unpinned = admin.post("/api/v1/packages", json={"name": PACKAGE, "version": "latest"})
        assert unpinned.status_code == 422

        installed = admin.post("/api/v1/packages", json={"name": PACKAGE, "version": "1.0.0"})
        assert installed.status_code == 201, installed.text
        assert installed.json()["version"] == "1.0.0"
        assert run(admin, use_it)["result"] == "HI!"
        # The sandbox policy still holds for installed packages.
        assert run(admin, f"import {MODULE}\nresult = {MODULE}.__name__")["ok"] is False

        missing = admin.post("/api/v1/packages", json={"name": PACKAGE, "version": "9.9.9"})
        assert missing.status_code == 422, missing.text
        assert "pip could not install" in missing.json()["error"]["message"]
        assert missing.json()["error"]["details"]["pip_output"]
        assert run(admin, use_it)["result"] == "HI!", "a failed install must leave the previous one intact"
        listed = admin.get("/api/v1/packages").json()["items"]
        assert [(item["name"], item["version"]) for item in listed] == [(PACKAGE, "1.0.0")]

    # A new replica with an empty disk restores the install from its MongoDB record.
    fresh_state = platform.state_dir / "replica-state"
    replica = platform.start("coderunner", extra_env={"DATAFLOW_STATE_DIR": str(fresh_state)})
    try:
        headers = {"Authorization": f"Bearer {platform.token()}"}
        with httpx.Client(base_url=replica.url, headers=headers, timeout=30) as client:
            assert wait_until(lambda: run(client, use_it)["result"] == "HI!", timeout=60, message="restored package")
        assert any((fresh_state / "coderunner" / "packages").glob(f"{PACKAGE}-1.0.0"))
    finally:
        replica.process.send_signal(signal.SIGTERM)
        replica.process.wait(timeout=20)

    with platform.client("coderunner") as admin:
        assert admin.delete(f"/api/v1/packages/{PACKAGE}").status_code == 204
        assert run(admin, use_it)["error"]["type"] == "SandboxViolation"
        assert admin.delete(f"/api/v1/packages/{PACKAGE}").status_code == 404
        assert admin.delete(f"/api/v1/packages/allowlist/{PACKAGE}").status_code == 204


def test_allowlist_refuses_bad_import_names_and_builtin_modules(platform: Platform) -> None:
    with platform.client("coderunner") as admin:
        bad = admin.put("/api/v1/packages/allowlist/x", json={"import_names": ["os.path"]})
        assert bad.status_code == 422
        clash = admin.put("/api/v1/packages/allowlist/x", json={"import_names": ["pandas"]})
        assert clash.status_code == 409


def test_packages_need_the_admin_scope(platform: Platform) -> None:
    with platform.client("coderunner", "code:execute") as client:
        assert client.post("/api/v1/packages", json={"name": "x", "version": "1"}).status_code == 403
        assert client.get("/api/v1/packages/allowlist").status_code == 403
