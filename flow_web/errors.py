"""The errors flow_web itself answers with, when a service behind its proxy fails."""

from __future__ import annotations

from common.errors import DataflowError


class BadGateway(DataflowError, ConnectionError):
    """The service behind ``/api/<service>/`` cannot be reached (not running, refused, reset)."""

    status = 502
    code = "bad_gateway"

    def __init__(self, service: str, url: str, reason: str) -> None:
        super().__init__(
            f"{service} cannot be reached at {url} ({reason}); check that it is running",
            details={"service": service},
        )
        self.service = service


class GatewayTimeout(DataflowError, TimeoutError):
    """The service accepted the request but did not answer in time."""

    status = 504
    code = "gateway_timeout"

    def __init__(self, service: str, timeout_s: float) -> None:
        super().__init__(
            f"{service} did not answer within {timeout_s:g} s; try again, or check its log",
            details={"service": service},
        )
        self.service = service
