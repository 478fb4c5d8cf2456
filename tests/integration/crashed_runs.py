"""Runs written straight into MongoDB, as a process that died mid-step leaves them (for engine tests)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any


def write_running_run(
    db: Any, flow_id: str, definition: dict[str, Any], records: list[tuple[str, dict[str, Any]]]
) -> str:
    """A running run of version 1 of ``flow_id`` and its journal; returns the run's id.

    ``records`` are (journal id, fields) written two minutes ago, after the run's start guard; an id's
    first part is the record's kind.
    """
    run_id = uuid.uuid4().hex[:24]
    long_ago = datetime.now(UTC) - timedelta(minutes=2)
    db.run_definitions.insert_one({"_id": f"{run_id}-definition", "definition": definition})
    db.runs.insert_one(
        {
            "_id": run_id,
            "flow_id": flow_id,
            "version": 1,
            "state": "running",
            "params": {},
            "trigger": {"type": "manual"},
            "created_at": long_ago,
            "started_at": long_ago,
            "finished_at": None,
            "attempt": 1,
            "epochs": {},
            "parent": None,
            "concurrency": 1,
            "cancel_requested": False,
            "slot": None,
            "definition_id": f"{run_id}-definition",
            "events": {"partition": 0, "offset": 0},
        }
    )
    kinds = {"start": "guard", "end": "guard"}
    db[f"journal.{run_id}"].insert_many(
        [
            {
                "_id": record_id,
                "kind": kinds.get(record_id.split(":")[0], record_id.split(":")[0]),
                "at": long_ago,
                **fields,
            }
            for record_id, fields in [("start:1", {}), *records]
        ]
    )
    return run_id
