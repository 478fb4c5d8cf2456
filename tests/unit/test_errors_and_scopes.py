"""Error mapping, scope parsing and role bundles."""

from __future__ import annotations

import tornado.web
from pymongo.errors import ServerSelectionTimeoutError

from common.errors import InvalidDefinition, NotFound, PermissionDenied
from common.scopes import ALL_SCOPES, ROLE_SCOPES, parse_scopes, unknown_scopes
from common.web.handlers import error_from_exception


def test_not_found_names_kind_and_id() -> None:
    error = NotFound("flow", "sales")
    assert error.status == 404 and error.to_json() == {
        "error": {"code": "not_found", "message": "No flow by the id of 'sales' was found"}
    }


def test_invalid_definition_carries_details() -> None:
    body = InvalidDefinition("bad", details=[{"field": "nodes.0.type"}]).to_json()
    assert body["error"]["code"] == "invalid_definition" and body["error"]["details"][0]["field"] == "nodes.0.type"


def test_permission_denied_lists_required_scopes() -> None:
    error = PermissionDenied("no", required=["admin"])
    assert (
        error.status == 403 and error.code == "insufficient_scope" and error.details == {"required_scopes": ["admin"]}
    )


def test_unreachable_mongodb_maps_to_503_and_bugs_to_opaque_500() -> None:
    unavailable = error_from_exception(ServerSelectionTimeoutError("down"), 500)
    assert unavailable.status == 503 and unavailable.code == "unavailable"
    bug = error_from_exception(KeyError("secret internal detail"), 500)
    assert bug.status == 500 and "secret internal detail" not in bug.message


def test_tornado_http_errors_keep_their_status() -> None:
    error = error_from_exception(tornado.web.HTTPError(405), 405)
    assert (error.status, error.code) == (405, "method_not_allowed")


def test_scopes_parse_and_roles_nest() -> None:
    assert parse_scopes("flows:read  cron:read") == {"flows:read", "cron:read"}
    assert parse_scopes(None) == frozenset()
    assert unknown_scopes({"flows:read", "root"}) == ["root"]
    assert ROLE_SCOPES["viewer"] < ROLE_SCOPES["editor"] < ROLE_SCOPES["admin"] == set(ALL_SCOPES)
    assert not any(scope.endswith(":write") or scope.endswith(":run") for scope in ROLE_SCOPES["viewer"])
