"""FerretDB answers as MongoDB through pymongo: the operations the services rely on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pymongo import ReturnDocument
from pymongo.database import Database
from pymongo.errors import DuplicateKeyError

pytestmark = pytest.mark.integration


def test_document_round_trips_with_nested_values(mongo_db: Database) -> None:
    document = {
        "name": "nightly",
        "at": datetime(2027, 1, 1, 6, 0, tzinfo=UTC),
        "nested": {"list": [1, 2.5, "three", None], "flag": True},
    }
    inserted = mongo_db.items.insert_one(dict(document)).inserted_id
    stored = mongo_db.items.find_one({"_id": inserted})
    assert stored is not None
    assert {key: stored[key] for key in document} == document


def test_unique_index_refuses_a_duplicate(mongo_db: Database) -> None:
    mongo_db.slots.create_index([("job", 1), ("scheduled", 1)], unique=True)
    mongo_db.slots.insert_one({"job": "a", "scheduled": 1})
    with pytest.raises(DuplicateKeyError):
        mongo_db.slots.insert_one({"job": "a", "scheduled": 1})
    assert mongo_db.slots.count_documents({}) == 1


def test_find_one_and_update_claims_a_document_once(mongo_db: Database) -> None:
    mongo_db.tasks.insert_many([{"n": i, "state": "ready"} for i in range(3)])
    claimed = [
        mongo_db.tasks.find_one_and_update(
            {"state": "ready"}, {"$set": {"state": "running"}}, sort=[("n", 1)], return_document=ReturnDocument.AFTER
        )
        for _ in range(4)
    ]
    assert [task["n"] for task in claimed if task] == [0, 1, 2]
    assert claimed[3] is None
