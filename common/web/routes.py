"""Routes and endpoint declarations.

A route is written once as an OpenAPI-style template (``/api/v1/flows/{flow_id}``)
and becomes both the Tornado URL pattern and the OpenAPI path. Each handler
method is declared with :func:`endpoint`, which states, next to the code, the
scopes it needs, the pydantic models of its body, query and response, and its
audit action. The declaration drives the guard, the parsing, the audit trail
and the OpenAPI document, so the four can never disagree.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tornado.web import URLSpec

if TYPE_CHECKING:
    from common.web.handlers import ApiHandler

_PARAM = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")

JSON = "application/json"


@dataclass(frozen=True, kw_only=True)
class EndpointSpec:
    """What a handler method needs and returns; see :func:`endpoint`."""

    scopes: tuple[str, ...] = ()
    summary: str = ""
    description: str = ""
    body: type | None = None
    query: type | None = None
    response: Any = None
    status: int = 200
    public: bool = False
    audit: str | None = None
    audited: bool = True
    body_types: tuple[str, ...] = (JSON,)
    response_type: str = JSON
    tags: tuple[str, ...] = ()
    errors: tuple[int, ...] = ()


def endpoint(
    *,
    scopes: tuple[str, ...] | list[str] = (),
    summary: str = "",
    description: str = "",
    body: type | None = None,
    query: type | None = None,
    response: Any = None,
    status: int = 200,
    public: bool = False,
    audit: str | None = None,
    audited: bool = True,
    body_types: tuple[str, ...] = (JSON,),
    response_type: str = JSON,
    tags: tuple[str, ...] = (),
    errors: tuple[int, ...] = (),
) -> Callable[[Callable[..., Awaitable[Any]]], Callable[..., Awaitable[None]]]:
    """Declare a handler method as an API endpoint.

    Mutating calls (POST, PUT, PATCH, DELETE) are recorded in the audit trail
    as ``audit`` (default: method and route); ``audited=False`` is for POSTs
    that compute without changing anything (running code, previews).

    The wrapped method is called with the parsed ``body=`` and ``query=``
    models when declared, after the token and scopes were checked (unless
    ``public``). Whatever it returns is sent as JSON with ``status``; a method
    that writes its own response returns ``None``.
    """
    spec = EndpointSpec(
        scopes=tuple(scopes),
        summary=summary,
        description=description,
        body=body,
        query=query,
        response=response,
        status=status,
        public=public,
        audit=audit,
        audited=audited,
        body_types=body_types,
        response_type=response_type,
        tags=tags,
        errors=errors,
    )

    def decorate(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[None]]:
        @functools.wraps(method)
        async def wrapper(self: ApiHandler, *args: Any, **kwargs: Any) -> None:
            call_kwargs = await self.begin_endpoint(spec, kwargs)
            result = await method(self, *args, **call_kwargs)
            if result is not None and not self._finished:
                self.send_json(result, status=spec.status)

        wrapper.__endpoint__ = spec  # type: ignore[attr-defined]
        return wrapper

    return decorate


def endpoint_spec(method: Any) -> EndpointSpec | None:
    return getattr(method, "__endpoint__", None)


@dataclass(frozen=True)
class Route:
    """A path template and the handler that serves it."""

    template: str
    handler: type
    kwargs: dict[str, Any] = field(default_factory=dict)
    include_in_schema: bool = True

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.template)

    def url_spec(self) -> URLSpec:
        from common.web.handlers import BaseHandler

        pattern = _PARAM.sub(lambda m: f"(?P<{m.group(1)}>[^/]+)", self.template) + "$"
        kwargs = dict(self.kwargs)
        if issubclass(self.handler, BaseHandler):
            kwargs["route_template"] = self.template
        return URLSpec(pattern, self.handler, kwargs)


def route(template: str, handler: type, *, include_in_schema: bool = True, **kwargs: Any) -> Route:
    return Route(template, handler, kwargs, include_in_schema)
