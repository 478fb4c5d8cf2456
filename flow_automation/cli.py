"""The ``dataflow`` command: administration that talks to MongoDB directly.

    dataflow bootstrap                 admin user + development client -> .dataflow/credentials.json,
                                       and the web UI's public client flow-web
    dataflow users create NAME --role admin|editor|viewer [--password P]
    dataflow clients create NAME --scopes "flows:read flows:run" [--client-id ID]
    dataflow clients list | delete ID
    dataflow keys rotate
    dataflow token [--scopes ...]      an access token for the credentials file's client
    dataflow runs purge --older-than DAYS [--dry-run]
                                       delete runs that ended more than DAYS ago, with their
                                       journals and stored outputs

Secrets and passwords are printed once, when created; only their hashes are stored.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from common.errors import DataflowError
from common.mongo import TRANSIENT_MONGO_ERRORS, create_mongo_client, default_database
from common.scopes import ALL_SCOPES, ROLE_SCOPES
from common.settings import Settings, get_settings
from flow_automation.engine.events import EventPublisher
from flow_automation.engine.outputs import ArtifactStore
from flow_automation.engine.runs import RunEngine
from flow_automation.flows.store import FlowStore
from flow_automation.identity.accounts import AccountStore, public_view, verify_secret
from flow_automation.identity.provider import IdentityProvider

DEV_CLIENT_ID = "dataflow-dev"
ADMIN_USERNAME = "admin"


async def _with_identity(settings: Settings, action: Callable[[IdentityProvider], Awaitable[int]]) -> int:
    client = create_mongo_client(settings)
    try:
        identity = IdentityProvider(default_database(client), settings)
        await identity.accounts.ensure_indexes()
        await identity.keys.ensure_indexes()
        return await action(identity)
    finally:
        await client.close()


def _read_credentials(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


async def bootstrap(identity: IdentityProvider, path: Path, issuer: str) -> int:
    """Make sure the admin user, the development client and the web client exist and match ``path``."""
    web_client = await identity.ensure_web_client()
    print(f"web client {web_client.client_id}: redirect URIs {', '.join(web_client.redirect_uris)}")
    previous = _read_credentials(path)
    accounts: AccountStore = identity.accounts
    client = await accounts.get_client(DEV_CLIENT_ID)
    secret = previous.get("client_secret")
    if client is None or not await asyncio.to_thread(verify_secret, client.secret_hash, secret or ""):
        if client is not None:
            await accounts.delete_client(DEV_CLIENT_ID)
        client, secret = await accounts.create_client(
            name="Development client", scopes=list(ALL_SCOPES), client_id=DEV_CLIENT_ID
        )
        print(f"created client {DEV_CLIENT_ID} with every scope")
    user = await accounts.get_user(ADMIN_USERNAME)
    password = previous.get("password")
    if user is None:
        password = password or secrets.token_urlsafe(12)
        await accounts.create_user(username=ADMIN_USERNAME, password=password, role="admin")
        print(f"created user {ADMIN_USERNAME} (role admin)")
    elif not password or not await asyncio.to_thread(verify_secret, user.password_hash, password):
        password = secrets.token_urlsafe(12)
        await accounts.set_password(ADMIN_USERNAME, password)
        print(f"reset the password of {ADMIN_USERNAME}")
    credentials = {
        "client_id": DEV_CLIENT_ID,
        "client_secret": secret,
        "username": ADMIN_USERNAME,
        "password": password,
        "issuer": issuer,
    }
    if credentials != previous:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(credentials, handle, indent=2)
            handle.write("\n")
    print(f"credentials in {path}")
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="dataflow", description="Dataflow administration.")
    sub = parser.add_subparsers(dest="command", required=True)

    boot = sub.add_parser("bootstrap", help="create the admin user, the development client and the web client")
    boot.add_argument("--output", type=Path, help="credentials file (default <state dir>/credentials.json)")

    users = sub.add_parser("users", help="manage users").add_subparsers(dest="action", required=True)
    create_user = users.add_parser("create", help="create a user and print the password once")
    create_user.add_argument("username")
    create_user.add_argument("--role", choices=sorted(ROLE_SCOPES), default="viewer")
    create_user.add_argument("--password", help="default: a random password, printed once")

    clients = sub.add_parser("clients", help="manage OAuth2 clients").add_subparsers(dest="action", required=True)
    create_client = clients.add_parser("create", help="register a client and print its secret once")
    create_client.add_argument("name")
    create_client.add_argument("--scopes", required=True, help=f"space-separated, from: {' '.join(ALL_SCOPES)}")
    create_client.add_argument("--client-id")
    clients.add_parser("list", help="list clients (never their secrets)")
    delete_client = clients.add_parser("delete", help="delete a client")
    delete_client.add_argument("client_id")

    keys = sub.add_parser("keys", help="manage JWT signing keys").add_subparsers(dest="action", required=True)
    keys.add_parser("rotate", help="sign new tokens with a new key; old keys stay published until their tokens expire")

    runs = sub.add_parser("runs", help="manage run history").add_subparsers(dest="action", required=True)
    purge = runs.add_parser("purge", help="delete runs that ended long ago, with their journals and outputs")
    purge.add_argument("--older-than", type=float, required=True, metavar="DAYS", help="days since the run ended")
    purge.add_argument("--dry-run", action="store_true", help="only count what would be deleted")

    token = sub.add_parser("token", help="print an access token for the client in the credentials file")
    token.add_argument("--scopes", help="space-separated; default: every scope of the client")
    token.add_argument("--credentials", type=Path, help="default <state dir>/credentials.json")
    return parser


async def _run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "bootstrap":
        path = args.output or settings.credentials_path
        return await _with_identity(settings, lambda identity: bootstrap(identity, path, settings.oauth_issuer))
    if args.command == "users":
        return await _with_identity(settings, lambda identity: _create_user(identity, args))
    if args.command == "clients":
        return await _with_identity(settings, lambda identity: _clients(identity, args))
    if args.command == "keys":
        return await _with_identity(settings, _rotate_keys)
    if args.command == "token":
        return _token(args, settings)
    if args.command == "runs":
        return await _purge_runs(args, settings)
    raise AssertionError(args.command)


async def _purge_runs(args: argparse.Namespace, settings: Settings) -> int:
    if args.older_than < 0:
        print("--older-than must be a number of days, 0 or more", file=sys.stderr)
        return 2
    client = create_mongo_client(settings)
    try:
        db = default_database(client)
        engine = RunEngine(db, settings, EventPublisher(settings), FlowStore(db))
        before = datetime.now(UTC) - timedelta(days=args.older_than)
        purged = await engine.purge(before, ArtifactStore(settings), dry_run=args.dry_run)
    finally:
        await client.close()
    verb = "would delete" if args.dry_run else "deleted"
    print(f"{verb} {len(purged)} run(s) that ended before {before.isoformat(timespec='seconds')}")
    return 0


async def _create_user(identity: IdentityProvider, args: argparse.Namespace) -> int:
    password = args.password or secrets.token_urlsafe(12)
    user = await identity.accounts.create_user(username=args.username, password=password, role=args.role)
    print(json.dumps({"username": user.username, "role": user.role, "password": password}, indent=2))
    return 0


async def _clients(identity: IdentityProvider, args: argparse.Namespace) -> int:
    if args.action == "create":
        client, secret = await identity.accounts.create_client(
            name=args.name, scopes=args.scopes.split(), client_id=args.client_id
        )
        print(json.dumps({"client_id": client.client_id, "client_secret": secret, "scopes": client.scopes}, indent=2))
    elif args.action == "list":
        for client in await identity.accounts.list_clients():
            print(json.dumps(public_view(client), default=str))
    else:
        await identity.accounts.delete_client(args.client_id)
        print(f"deleted client {args.client_id}")
    return 0


async def _rotate_keys(identity: IdentityProvider) -> int:
    kid = await identity.keys.rotate()
    print(f"new signing key {kid}; running replicas pick it up within a minute")
    return 0


def _token(args: argparse.Namespace, settings: Settings) -> int:
    path = args.credentials or settings.credentials_path
    credentials = json.loads(path.read_text())
    data = {"grant_type": "client_credentials"}
    if args.scopes:
        data["scope"] = args.scopes
    response = httpx.post(
        f"{credentials['issuer'].rstrip('/')}/oauth2/token",
        data=data,
        auth=(credentials["client_id"], credentials["client_secret"]),
        timeout=10,
    )
    if response.status_code != 200:
        print(f"token request failed ({response.status_code}): {response.text}", file=sys.stderr)
        return 1
    print(response.json()["access_token"])
    return 0


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    settings = get_settings()
    try:
        sys.exit(asyncio.run(_run(args, settings)))
    except DataflowError as exc:
        print(f"dataflow: {exc.message}", file=sys.stderr)
        sys.exit(2)
    except TRANSIENT_MONGO_ERRORS as exc:
        print(f"dataflow: MongoDB is unreachable at {settings.mongo_uri}: {exc}", file=sys.stderr)
        sys.exit(1)
    except (OSError, httpx.HTTPError, KeyError, json.JSONDecodeError) as exc:
        print(f"dataflow: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
