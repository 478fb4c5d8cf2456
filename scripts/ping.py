"""Exit 0 when a server answers: ``ping.py mongo|kafka HOST:PORT``.

Used by the provisioning scripts to wait until a server is really ready (a
MongoDB ping command, a Kafka metadata request), not merely listening.
"""

from __future__ import annotations

import sys
import warnings


def ping_mongo(address: str) -> None:
    from pymongo import MongoClient

    with MongoClient(f"mongodb://{address}/", serverSelectionTimeoutMS=2000, connectTimeoutMS=2000) as client:
        client.admin.command("ping")


def ping_kafka(address: str) -> None:
    warnings.simplefilter("ignore", DeprecationWarning)
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(bootstrap_servers=address, request_timeout_ms=3000, bootstrap_timeout_ms=3000)
    try:
        admin.list_topics()
    finally:
        admin.close()


def main() -> int:
    kind, address = sys.argv[1], sys.argv[2]
    try:
        {"mongo": ping_mongo, "kafka": ping_kafka}[kind](address)
    except Exception:  # noqa: BLE001 - any failure means "not ready yet"
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
