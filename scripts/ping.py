"""Exit 0 when a server really answers: ``ping.py mongo|kafka [HOST:PORT]``.

The provisioning scripts use it to wait until a server is ready, not merely
listening: a MongoDB ``ping`` command for FerretDB, a Kafka metadata request
(listing the topics) for the broker. Exit 1 means "not (yet) answering", with
the reason on stderr; exit 2 is a usage error.
"""

from __future__ import annotations

import sys
import warnings

DEFAULTS = {"mongo": "127.0.0.1:27017", "kafka": "127.0.0.1:9092"}


def ping_mongo(address: str) -> None:
    from pymongo import MongoClient

    client: MongoClient = MongoClient(
        f"mongodb://{address}/",
        serverSelectionTimeoutMS=2000,
        connectTimeoutMS=2000,
        socketTimeoutMS=5000,
        directConnection=True,
    )
    try:
        client.admin.command("ping")
    finally:
        client.close()


def ping_kafka(address: str) -> None:
    warnings.simplefilter("ignore")
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=address,
        client_id="dataflow-ping",
        request_timeout_ms=3000,
        bootstrap_timeout_ms=3000,
    )
    try:
        admin.list_topics()
    finally:
        admin.close()


def main(argv: list[str]) -> int:
    if len(argv) not in (1, 2) or argv[0] not in DEFAULTS:
        print("usage: ping.py mongo|kafka [HOST:PORT]", file=sys.stderr)
        return 2
    kind = argv[0]
    address = argv[1] if len(argv) == 2 else DEFAULTS[kind]
    try:
        {"mongo": ping_mongo, "kafka": ping_kafka}[kind](address)
    except Exception as error:  # noqa: BLE001 - any failure means "not answering"
        print(f"{kind} at {address}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
