"""The reverse proxy that puts every service behind flow_web's one origin.

``/api/<service>/<path>`` goes to ``<service URL>/<path>`` (the URLs of
``DATAFLOW_<SERVICE>_URL``), and ``/oauth2/...`` and ``/.well-known/...`` go
to flow_automation unchanged, so the browser signs in and calls every API
without cross-origin requests. The proxy does not look at tokens: each
service checks the ``Authorization`` header it receives, as it would from any
client.

Both directions stream. A request body is handed to the service chunk by
chunk as it arrives (a bounded queue gives back-pressure), and a response is
written to the browser as each chunk comes back, flushed at once: a
``text/event-stream`` (a run's live events) reaches the browser event by
event, with ``Last-Event-ID`` passed on so a reconnecting stream resumes. The
response's bytes are relayed as the service encoded them, with its status
and headers, minus the hop-by-hop ones.

A service that cannot be reached gives a JSON 502 (:class:`BadGateway`), one
that stops answering a 504; a prefix that names no service a JSON 404.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import tornado.iostream
import tornado.web
from tornado.routing import URLSpec

from common.errors import NotFound
from common.web import BaseHandler
from common.web.routes import Route
from flow_web.constants import (
    PROXIED_SERVICES,
    PROXY_BODY_QUEUE_CHUNKS,
    PROXY_CONNECT_TIMEOUT_S,
    PROXY_MAX_CONNECTIONS,
    PROXY_POOL_TIMEOUT_S,
    PROXY_READ_TIMEOUT_S,
    PROXY_WRITE_TIMEOUT_S,
)
from flow_web.errors import BadGateway, GatewayTimeout

if TYPE_CHECKING:
    from common.settings import Settings
    from common.web.app import ServiceApp

log = logging.getLogger(__name__)

#: Headers that describe one connection, not the message: never forwarded (RFC 9110 section 7.6.1).
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
#: Request headers the proxy sets itself.
REPLACED_REQUEST_HEADERS = frozenset({"host", "content-length", "x-forwarded-for", "x-forwarded-host", "x-real-ip"})
EVENT_STREAM = "text/event-stream"


@dataclass(frozen=True)
class PatternRoute(Route):
    """A route given as a Tornado regular expression (a path remainder may contain slashes)."""

    pattern: str = ""

    def url_spec(self) -> URLSpec:
        return URLSpec(self.pattern, self.handler, {**self.kwargs, "route_template": self.template})


class ServiceDirectory:
    """Where each proxied service lives, and the one HTTP client that reaches them."""

    def __init__(self, settings: Settings) -> None:
        self.base_urls = {service: getattr(settings, f"{service}_url").rstrip("/") for service in PROXIED_SERVICES}
        self._client: httpx.AsyncClient | None = None

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(
                    connect=PROXY_CONNECT_TIMEOUT_S,
                    read=PROXY_READ_TIMEOUT_S,
                    write=PROXY_WRITE_TIMEOUT_S,
                    pool=PROXY_POOL_TIMEOUT_S,
                ),
                limits=httpx.Limits(max_connections=PROXY_MAX_CONNECTIONS, max_keepalive_connections=64),
                follow_redirects=False,
                trust_env=False,
            )
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None


def proxy_routes(directory: ServiceDirectory) -> list[Route]:
    """``/api/<service>/...`` to the named service; ``/oauth2/...`` and ``/.well-known/...`` to flow_automation."""
    return [
        PatternRoute(
            "/api/{service}/{path}",
            ProxyHandler,
            {"directory": directory},
            include_in_schema=False,
            pattern=r"/api/(?P<service>[A-Za-z0-9_.-]+)(?P<path>/.*)?$",
        ),
        PatternRoute(
            "/oauth2/{path}",
            ProxyHandler,
            {"directory": directory, "fixed_service": "flow_automation"},
            include_in_schema=False,
            pattern=r"(?P<path>/oauth2/.*)$",
        ),
        PatternRoute(
            "/.well-known/{path}",
            ProxyHandler,
            {"directory": directory, "fixed_service": "flow_automation"},
            include_in_schema=False,
            pattern=r"(?P<path>/\.well-known/.*)$",
        ),
    ]


@tornado.web.stream_request_body
class ProxyHandler(BaseHandler):
    """Relays one request to a service and its response back, streaming both ways."""

    SUPPORTED_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

    application: ServiceApp

    def initialize(  # type: ignore[override]
        self,
        route_template: str = "unmatched",
        *,
        directory: ServiceDirectory,
        fixed_service: str | None = None,
    ) -> None:
        super().initialize(route_template)
        self.directory = directory
        self.fixed_service = fixed_service
        self.service = ""
        self.upstream_base = ""
        self._body: asyncio.Queue[bytes | None] | None = None
        self._upstream: asyncio.Future[httpx.Response] | None = None
        self._response: httpx.Response | None = None
        self._client_gone = False
        self._closing: asyncio.Future[None] | None = None

    # -- request ---------------------------------------------------------------------

    async def prepare(self) -> None:
        await super().prepare()
        self.service = self.fixed_service or self.path_kwargs.get("service", "")
        base = self.directory.base_urls.get(self.service)
        if base is None:
            raise NotFound(
                "service",
                self.service,
                details={"services": list(PROXIED_SERVICES), "usage": "/api/<service>/<path>"},
            )
        self.upstream_base = base
        if self._has_body():
            self._body = asyncio.Queue(maxsize=PROXY_BODY_QUEUE_CHUNKS)
        request = self.directory.client.build_request(
            self.request.method or "GET",
            self._upstream_url(base),
            headers=self._upstream_headers(),
            content=self._body_chunks() if self._body is not None else None,
            timeout=self._timeout(),
        )
        self._upstream = asyncio.ensure_future(self.directory.client.send(request, stream=True))

    def _has_body(self) -> bool:
        headers = self.request.headers
        if "chunked" in headers.get("Transfer-Encoding", "").lower():
            return True
        length = headers.get("Content-Length", "0")
        return length.isdigit() and int(length) > 0

    def _upstream_url(self, base: str) -> str:
        # The raw path keeps its percent-encoding; Tornado's path arguments are decoded.
        path = self.request.path
        if self.fixed_service is None:
            path = path[len(f"/api/{self.service}") :] or "/"
        query = self.request.query
        return f"{base}{path}" + (f"?{query}" if query else "")

    def _upstream_headers(self) -> list[tuple[str, str]]:
        headers = [
            (name, value)
            for name, value in self.request.headers.get_all()
            if name.lower() not in HOP_BY_HOP and name.lower() not in REPLACED_REQUEST_HEADERS
        ]
        if "x-request-id" not in {name.lower() for name, _ in headers}:
            headers.append(("X-Request-ID", self.request_id))
        if self._has_body() and "Content-Length" in self.request.headers:
            headers.append(("Content-Length", self.request.headers["Content-Length"]))
        headers += [
            ("X-Forwarded-For", self.request.remote_ip or ""),
            ("X-Real-IP", self.request.remote_ip or ""),
            ("X-Forwarded-Host", self.request.host),
            ("X-Forwarded-Proto", self.request.protocol),
        ]
        return headers

    def _timeout(self) -> httpx.Timeout:
        read = None if EVENT_STREAM in self.request.headers.get("Accept", "") else PROXY_READ_TIMEOUT_S
        return httpx.Timeout(
            connect=PROXY_CONNECT_TIMEOUT_S, read=read, write=PROXY_WRITE_TIMEOUT_S, pool=PROXY_POOL_TIMEOUT_S
        )

    async def _body_chunks(self) -> Any:
        assert self._body is not None
        while (chunk := await self._body.get()) is not None:
            yield chunk

    async def data_received(self, chunk: bytes) -> None:
        if self._body is None or self._upstream is None or self._upstream.done():
            return  # no body expected, or the service already answered or failed: discard
        put = asyncio.ensure_future(self._body.put(chunk))
        await asyncio.wait({put, self._upstream}, return_when=asyncio.FIRST_COMPLETED)
        if not put.done():
            put.cancel()

    # -- response --------------------------------------------------------------------

    async def get(self, **_: str) -> None:
        await self._relay()

    head = post = put = patch = delete = options = get

    async def _relay(self) -> None:
        assert self._upstream is not None
        if self._body is not None:
            await self._end_body()
        try:
            response = await self._upstream
        except asyncio.CancelledError:
            if self._client_gone:
                return  # the browser went away before the service answered: nobody to answer
            raise
        except httpx.TimeoutException as exc:
            if isinstance(exc, httpx.ConnectTimeout):
                raise BadGateway(self.service, self.upstream_base, "connection timed out") from exc
            raise GatewayTimeout(self.service, PROXY_READ_TIMEOUT_S) from exc
        except httpx.TransportError as exc:
            raise BadGateway(self.service, self.upstream_base, _reason(exc)) from exc
        self._response = response
        try:
            await self._send_response(response)
        finally:
            await response.aclose()

    async def _end_body(self) -> None:
        assert self._body is not None and self._upstream is not None
        end = asyncio.ensure_future(self._body.put(None))
        await asyncio.wait({end, self._upstream}, return_when=asyncio.FIRST_COMPLETED)
        if not end.done():
            end.cancel()

    async def _send_response(self, response: httpx.Response) -> None:
        self._copy_head(response)
        streaming = response.headers.get("Content-Type", "").startswith(EVENT_STREAM)
        try:
            if streaming or self.request.method == "HEAD" or response.status_code in (204, 304):
                await self.flush()
            async for chunk in response.aiter_raw():
                if self._client_gone:
                    break
                self.write(chunk)
                await self.flush()
        except tornado.iostream.StreamClosedError:
            self._client_gone = True
        except (httpx.TransportError, httpx.StreamError, asyncio.CancelledError) as exc:
            if self._client_gone:
                return  # closing the service's stream after the browser left ends the read this way
            if isinstance(exc, asyncio.CancelledError):
                raise
            # The status line has gone out; all that is left is to end the response early.
            log.warning("%s broke off its response to %s: %s", self.service, self.request.path, exc)
            self._client_gone = True
            stream = getattr(self.request.connection, "stream", None)
            if stream is not None:
                stream.close()
            return
        if not self._client_gone:
            self.finish()

    def _copy_head(self, response: httpx.Response) -> None:
        """The service's status and headers, without hop-by-hop ones, redirects pointed back through here."""
        self.clear()
        self.clear_header("Content-Type")
        self.set_status(response.status_code, reason=response.reason_phrase or None)
        for name, value in response.headers.multi_items():
            lowered = name.lower()
            if lowered in HOP_BY_HOP or lowered in ("server", "date"):
                continue
            if lowered == "content-length" and response.status_code in (204, 304):
                continue
            self.add_header(name, self._local_location(value) if lowered == "location" else value)
        if "X-Request-ID" not in response.headers:
            self.set_header("X-Request-ID", self.request_id)  # the id the service was sent, too
        if response.headers.get("Content-Type", "").startswith(EVENT_STREAM):
            self.set_header("X-Accel-Buffering", "no")

    def _local_location(self, location: str) -> str:
        """A redirect to the service's own URL becomes one to the same place through this proxy."""
        if not location.startswith(self.upstream_base):
            return location
        rest = location[len(self.upstream_base) :]
        if rest and not rest.startswith(("/", "?")):
            return location
        prefix = "" if self.fixed_service else f"/api/{self.service}"
        return f"{prefix}{rest or '/'}"

    def on_connection_close(self) -> None:
        """The browser went away (closed the tab, the event stream): stop reading from the service."""
        self._client_gone = True
        if self._response is not None:
            self._closing = asyncio.ensure_future(self._response.aclose())
        elif self._upstream is not None and not self._upstream.done():
            self._upstream.cancel()
        if self._body is not None:
            with contextlib.suppress(asyncio.QueueFull):
                self._body.put_nowait(None)

    def compute_etag(self) -> str | None:
        return None  # the service's own ETag, if any, is relayed; the proxy never makes one up

    def on_finish(self) -> None:
        super().on_finish()
        if self._upstream is not None and not self._upstream.done():
            self._upstream.cancel()

    def log_exception(self, typ: Any, value: BaseException | None, tb: Any) -> None:
        if isinstance(value, BadGateway | GatewayTimeout):
            log.warning("proxy to %s failed: %s", self.service, value)
            return
        super().log_exception(typ, value, tb)


def _reason(exc: httpx.TransportError) -> str:
    if isinstance(exc, httpx.ConnectError):
        return "connection refused" if "refused" in str(exc).lower() else f"cannot connect: {exc}"
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
