"""The base request handlers every service builds on.

:class:`BaseHandler` owns what every response shares: the request id, JSON
rendering of results and errors (never a traceback), metrics and the access
log. :class:`ApiHandler` adds what ``/api/v1`` needs: the bearer-token guard,
body size limits, content-type checks, pydantic parsing of bodies and query
strings, and the audit trail of mutating calls.

Request bodies are streamed (``stream_request_body``) so an oversized body is
answered with a clean JSON 413 instead of a dropped connection: the body is
read and discarded up to a hard cap, then the error is sent.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import time
import uuid
from collections.abc import Awaitable
from typing import TYPE_CHECKING, Any, cast

import httpx
import pydantic_core
import tornado.web
import yaml
from pydantic import TypeAdapter, ValidationError
from tornado.httputil import parse_body_arguments

from common.auth import Principal, bearer_token
from common.errors import (
    DataflowError,
    DependencyUnavailable,
    InvalidArgument,
    InvalidDefinition,
    PayloadTooLarge,
    PermissionDenied,
    Unauthenticated,
    UnsupportedMediaType,
)
from common.kafka import TRANSIENT_KAFKA_ERRORS
from common.logging import request_id_var
from common.mongo import TRANSIENT_MONGO_ERRORS
from common.web.routes import EndpointSpec

if TYPE_CHECKING:
    from common.web.app import ServiceApp

log = logging.getLogger(__name__)
access_log = logging.getLogger("dataflow.access")

MUTATING_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_TORNADO_CODES = {
    400: "invalid_argument",
    401: "unauthenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}


@functools.lru_cache(maxsize=512)
def type_adapter(model: Any) -> TypeAdapter[Any]:
    """One TypeAdapter per model: building one costs far more than validating with it."""
    return TypeAdapter(model)


def to_jsonable(value: Any) -> Any:
    """JSON-ready data from models, datetimes, ObjectIds and the like."""
    return pydantic_core.to_jsonable_python(value, fallback=str, by_alias=True)


def dumps(value: Any) -> str:
    return json.dumps(to_jsonable(value), separators=(",", ":"), ensure_ascii=False)


def error_from_exception(exc: BaseException | None, status_code: int) -> DataflowError:
    """The client-facing error for an exception that escaped a handler."""
    if isinstance(exc, DataflowError):
        return exc
    if isinstance(exc, TRANSIENT_MONGO_ERRORS):
        return DependencyUnavailable("MongoDB is unreachable right now; try again shortly")
    if isinstance(exc, TRANSIENT_KAFKA_ERRORS):
        return DependencyUnavailable("Kafka is unreachable right now; try again shortly")
    if isinstance(exc, httpx.TransportError):
        return DependencyUnavailable("A Dataflow service this call needs is unreachable; try again shortly")
    if isinstance(exc, tornado.web.HTTPError) or exc is None:
        status = exc.status_code if isinstance(exc, tornado.web.HTTPError) else status_code
        error = DataflowError(
            (exc.reason if isinstance(exc, tornado.web.HTTPError) else None)
            or tornado.httputil.responses.get(status, "Error")
        )
        error.status = status
        error.code = _TORNADO_CODES.get(status, "internal" if status >= 500 else "invalid_argument")
        return error
    return DataflowError("Internal error: the request could not be completed; see the service log")


class BaseHandler(tornado.web.RequestHandler):
    """JSON responses and errors, request ids, metrics and access logging."""

    application: ServiceApp

    def initialize(self, route_template: str = "unmatched", **_: Any) -> None:
        self.route_template = route_template
        self.started_at = time.perf_counter()
        self.principal: Principal | None = None
        self.error_code: str | None = None

    @property
    def request_id(self) -> str:
        return cast(str, getattr(self, "_request_id", None) or self._assign_request_id())

    def _assign_request_id(self) -> str:
        incoming = self.request.headers.get("X-Request-ID", "")
        request_id = incoming if 0 < len(incoming) <= 128 and incoming.isprintable() else uuid.uuid4().hex
        self._request_id = request_id
        request_id_var.set(request_id)
        self.set_header("X-Request-ID", request_id)
        return request_id

    def set_default_headers(self) -> None:
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")

    async def prepare(self) -> None:
        self._assign_request_id()

    def send_json(self, value: Any, *, status: int = 200) -> None:
        self.set_status(status)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(dumps(value))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info", (None, None, None))[1]
        error = error_from_exception(exc, status_code)
        self.error_code = error.code
        if error.status != status_code:
            self.set_status(error.status)
        if isinstance(error, Unauthenticated):
            self.set_header(
                "WWW-Authenticate",
                f'Bearer realm="dataflow", error="invalid_token", {_describe(error.message)}',
            )
        elif isinstance(error, PermissionDenied):
            scope = " ".join(error.required)
            self.set_header("WWW-Authenticate", f'Bearer realm="dataflow", error="insufficient_scope", scope="{scope}"')
        self.clear_header("Content-Disposition")
        self.set_header("Content-Type", "application/json; charset=utf-8")
        body = error.to_json()
        if error.status >= 500:
            body["error"]["request_id"] = self.request_id
        self.finish(dumps(body))

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        error = error_from_exception(value, 500)
        if error.status >= 500 and error.code != "unavailable":
            log.error(
                "unhandled error in %s %s",
                self.request.method,
                self.request.path,
                exc_info=(typ, value, tb),
            )
        elif error.status >= 500:
            log.warning("dependency unavailable: %s (%s)", error.message, value)
        else:
            log.info("request refused: %s %s", error.status, error.message)

    def on_finish(self) -> None:
        elapsed = time.perf_counter() - self.started_at
        status = self.get_status()
        self.application.metrics.observe(self.route_template, self.request.method or "", status, elapsed)
        access_log.info(
            "%s %s %s",
            self.request.method,
            self.request.path,
            status,
            extra={
                "method": self.request.method,
                "path": self.request.path,
                "route": self.route_template,
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "remote_ip": self.request.remote_ip,
                "request_id": self.request_id,
            },
        )


def _describe(message: str) -> str:
    return 'error_description="{}"'.format(message.replace("\\", "").replace('"', "'"))


@tornado.web.stream_request_body
class ApiHandler(BaseHandler):
    """Base of every ``/api`` handler: guard, body limits, parsing, audit.

    Set ``max_body_bytes`` on a subclass for endpoints that take larger
    uploads. Handler methods are declared with :func:`common.web.endpoint`.
    """

    max_body_bytes: int | None = None

    def initialize(self, route_template: str = "unmatched", **kwargs: Any) -> None:
        super().initialize(route_template, **kwargs)
        self._chunks: list[bytes] = []
        self._body_size = 0
        self._body_too_large = False
        self.endpoint: EndpointSpec | None = None
        self.audit_object_id: str | None = None

    @property
    def body_limit(self) -> int:
        return self.max_body_bytes or self.application.config.max_body_bytes

    async def prepare(self) -> None:
        await super().prepare()
        limit = self.body_limit
        hard_cap = max(2 * limit, limit + 16 * 1024 * 1024)
        declared = self.request.headers.get("Content-Length")
        if declared is not None:
            if not declared.isdigit():
                raise InvalidArgument("The Content-Length header must be a non-negative integer")
            if int(declared) > hard_cap:
                raise PayloadTooLarge(f"The request body is larger than the limit of {limit} bytes")
            self._body_too_large = int(declared) > limit
        self.request.connection.set_max_body_size(hard_cap)  # type: ignore[union-attr]

    def data_received(self, chunk: bytes) -> None:
        self._body_size += len(chunk)
        if self._body_size > self.body_limit:
            self._body_too_large = True
            self._chunks.clear()
        elif not self._body_too_large:
            self._chunks.append(chunk)

    def _finish_body(self) -> None:
        if self._body_too_large:
            raise PayloadTooLarge(f"The request body is larger than the limit of {self.body_limit} bytes")
        self.request.body = b"".join(self._chunks)
        self._chunks = []
        if self.request.body:
            parse_body_arguments(
                self.request.headers.get("Content-Type", ""),
                self.request.body,
                self.request.body_arguments,
                self.request.files,
                self.request.headers,
            )

    async def begin_endpoint(self, spec: EndpointSpec, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Run the checks an endpoint declares; returns the keyword arguments for the method."""
        self.endpoint = spec
        self._finish_body()
        if not self.application.started.is_set():
            raise DependencyUnavailable(
                f"{self.application.service} is still starting (waiting for MongoDB); try again shortly"
            )
        if not spec.public:
            await self.authenticate()
            self.require_scopes(spec.scopes)
        call_kwargs = dict(kwargs)
        if spec.body is not None:
            call_kwargs["body"] = self.parse_body(spec.body, spec.body_types)
        if spec.query is not None:
            call_kwargs["query"] = self.parse_query(spec.query)
        return call_kwargs

    async def authenticate(self) -> Principal:
        token = bearer_token(self.request.headers.get("Authorization"))
        self.principal = await self.application.token_validator.validate(token)
        return self.principal

    def require_scopes(self, scopes: tuple[str, ...] | list[str]) -> None:
        if self.principal is None:
            raise Unauthenticated("This endpoint needs a bearer token")
        missing = [scope for scope in scopes if scope not in self.principal.scopes]
        if missing:
            raise PermissionDenied(
                f"The token lacks the scope(s) {', '.join(missing)} that this endpoint needs",
                required=list(scopes),
            )

    # -- parsing ---------------------------------------------------------------------

    def media_type(self) -> str:
        return self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()

    def body_data(self, accepted: tuple[str, ...]) -> Any:
        """The request body decoded as JSON (or YAML where accepted)."""
        if not self.request.body:
            raise InvalidArgument("The request body is empty; send a JSON document")
        media_type = self.media_type()
        if not _accepts(media_type, accepted):
            raise UnsupportedMediaType(
                f"Content-Type {media_type or '(none)'!r} is not accepted here; send one of {list(accepted)}",
            )
        if media_type in ("application/yaml", "application/x-yaml", "text/yaml"):
            try:
                return yaml.safe_load(self.request.body)
            except yaml.YAMLError as exc:
                raise InvalidArgument(f"The request body is not valid YAML: {exc}") from exc
        try:
            return json.loads(self.request.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InvalidArgument(f"The request body is not valid JSON: {exc}") from exc

    def parse_body(self, model: type, accepted: tuple[str, ...] = ("application/json",)) -> Any:
        data = self.body_data(accepted)
        try:
            return type_adapter(model).validate_python(data)
        except ValidationError as exc:
            raise InvalidDefinition(
                "The request body does not match the expected shape", details=validation_details(exc)
            ) from exc

    def parse_query(self, model: type) -> Any:
        fields = getattr(model, "model_fields", {})
        data: dict[str, Any] = {}
        for name, values in self.request.query_arguments.items():
            decoded = [value.decode("utf-8", "replace") for value in values]
            info = fields.get(name)
            is_list = info is not None and getattr(info.annotation, "__origin__", None) is list
            data[name] = decoded if is_list else decoded[-1]
        try:
            return type_adapter(model).validate_python(data)
        except ValidationError as exc:
            raise InvalidArgument("The query string is not valid", details=validation_details(exc)) from exc

    # -- audit -------------------------------------------------------------------------

    def on_finish(self) -> None:
        super().on_finish()
        if self.request.method in MUTATING_METHODS and self.endpoint is not None and self.endpoint.audited:
            self.application.audit.record_later(
                service=self.application.service,
                action=self.endpoint.audit or f"{self.request.method} {self.route_template}",
                object_id=self.audit_object_id or _first_path_value(self.path_kwargs),
                principal=self.principal,
                remote_ip=self.request.remote_ip,
                request_id=self.request_id,
                status=self.get_status(),
                error_code=self.error_code,
            )


def _accepts(media_type: str, accepted: tuple[str, ...]) -> bool:
    if media_type in accepted:
        return True
    return "application/json" in accepted and media_type.startswith("application/") and media_type.endswith("+json")


def _first_path_value(path_kwargs: dict[str, Any]) -> str | None:
    for value in path_kwargs.values():
        return str(value)
    return None


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as ``[{field, message, type}]`` with dotted field paths."""
    details = []
    for error in exc.errors(include_url=False, include_context=False):
        location = ".".join(str(part) for part in error["loc"])
        details.append({"field": location or "(body)", "message": error["msg"], "type": error["type"]})
    return details


class NotFoundHandler(BaseHandler):
    """Every unmatched path: a JSON 404."""

    async def prepare(self) -> None:
        await super().prepare()
        raise tornado.web.HTTPError(404, reason=f"No route matches {self.request.path}")


class HealthHandler(BaseHandler):
    """Liveness: the process serves requests. No dependency is checked."""

    async def get(self) -> None:
        self.send_json({"status": "ok", "service": self.application.service})


class ReadinessHandler(BaseHandler):
    """Readiness: every dependency answers (MongoDB, Kafka, ...) within a deadline."""

    async def get(self) -> None:
        checks = await self.application.check_readiness()
        ready = all(result == "ok" for result in checks.values())
        self.send_json(
            {
                "status": "ready" if ready else "unavailable",
                "service": self.application.service,
                "checks": checks,
            },
            status=200 if ready else 503,
        )


class MetricsHandler(BaseHandler):
    async def get(self) -> None:
        payload, content_type = self.application.metrics.render()
        self.set_header("Content-Type", content_type)
        self.finish(payload)


class OpenApiHandler(BaseHandler):
    async def get(self) -> None:
        self.send_json(self.application.openapi())


async def run_check(name: str, check: Awaitable[Any], timeout_s: float) -> tuple[str, str]:
    try:
        await asyncio.wait_for(check, timeout_s)
    except TimeoutError:
        return name, f"timed out after {timeout_s:g}s"
    except Exception as exc:  # noqa: BLE001 - any failure of a dependency means "not ready"
        return name, f"{type(exc).__name__}: {exc}"[:300]
    return name, "ok"
