"""The exception hierarchy every service raises and the base handler renders.

Each class carries the HTTP status and the machine-readable ``code`` of the
JSON error body ``{"error": {"code", "message", "details"}}``. Domain code
raises these (``NotFound("flow", flow_id)``) and knows nothing of HTTP; the
message is written for the client, so it names what was wrong and how to fix
it. Anything else that escapes a handler is a bug: a 500 with the request id.
"""

from __future__ import annotations

from typing import Any


class DataflowError(Exception):
    """Base of every error a client may see."""

    status: int = 500
    code: str = "internal"

    def __init__(self, message: str, *, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details is not None:
            body["details"] = self.details
        return {"error": body}


class InvalidArgument(DataflowError, ValueError):
    """The request itself is malformed: bad JSON, a bad query parameter."""

    status = 400
    code = "invalid_argument"


class Unauthenticated(DataflowError):
    """No bearer token, or one that is not valid (signature, issuer, audience, expiry)."""

    status = 401
    code = "unauthenticated"


class PermissionDenied(DataflowError, PermissionError):
    """The token is valid but lacks a scope the route needs."""

    status = 403
    code = "insufficient_scope"

    def __init__(self, message: str, *, required: list[str] | None = None, details: Any = None) -> None:
        super().__init__(message, details=details if details is not None else {"required_scopes": required})
        self.required = required or []


class NotFound(DataflowError, LookupError):
    """No object of a kind by the given id."""

    status = 404
    code = "not_found"

    def __init__(self, kind: str, object_id: str, *, details: Any = None) -> None:
        super().__init__(f"No {kind} by the id of {object_id!r} was found", details=details)
        self.kind = kind
        self.object_id = object_id


class Conflict(DataflowError):
    """The request conflicts with the current state (exists already, still in use)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(DataflowError):
    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(DataflowError):
    status = 415
    code = "unsupported_media_type"


class InvalidDefinition(DataflowError, ValueError):
    """Well-formed JSON whose content is invalid; ``details`` lists each problem and its field."""

    status = 422
    code = "invalid_definition"


class RateLimited(DataflowError):
    status = 429
    code = "rate_limited"


class DependencyUnavailable(DataflowError, ConnectionError):
    """MongoDB, Kafka or another service cannot be reached right now; retrying later may work."""

    status = 503
    code = "unavailable"


class ShutdownRequested(BaseException):
    """Raised inside long-running loops when the process must stop.

    A ``BaseException`` so that no ``except Exception`` in a worker swallows it.
    """
