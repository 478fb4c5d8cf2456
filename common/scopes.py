"""OAuth2 scopes and the roles that bundle them."""

from __future__ import annotations

FLOWS_READ = "flows:read"
FLOWS_WRITE = "flows:write"
FLOWS_RUN = "flows:run"
CODE_EXECUTE = "code:execute"
CRON_READ = "cron:read"
CRON_WRITE = "cron:write"
STREAMS_READ = "streams:read"
STREAMS_WRITE = "streams:write"
CONNECTIONS_WRITE = "connections:write"
ADMIN = "admin"

ALL_SCOPES: tuple[str, ...] = (
    FLOWS_READ,
    FLOWS_WRITE,
    FLOWS_RUN,
    CODE_EXECUTE,
    CRON_READ,
    CRON_WRITE,
    STREAMS_READ,
    STREAMS_WRITE,
    CONNECTIONS_WRITE,
    ADMIN,
)

SCOPE_DESCRIPTIONS: dict[str, str] = {
    FLOWS_READ: "read flows, runs and node types",
    FLOWS_WRITE: "create, change and delete flows",
    FLOWS_RUN: "start, cancel and retry runs",
    CODE_EXECUTE: "run code and document tools in the sandbox",
    CRON_READ: "read cron jobs and their executions",
    CRON_WRITE: "create, change and trigger cron jobs",
    STREAMS_READ: "read stream pipelines and their status",
    STREAMS_WRITE: "create, change, start and stop stream pipelines",
    CONNECTIONS_WRITE: "create, change and test data connections",
    ADMIN: "administration: packages, audit trail, users and clients",
}

ROLE_SCOPES: dict[str, frozenset[str]] = {
    "viewer": frozenset({FLOWS_READ, CRON_READ, STREAMS_READ}),
    "editor": frozenset(
        {
            FLOWS_READ,
            FLOWS_WRITE,
            FLOWS_RUN,
            CODE_EXECUTE,
            CRON_READ,
            CRON_WRITE,
            STREAMS_READ,
            STREAMS_WRITE,
            CONNECTIONS_WRITE,
        }
    ),
    "admin": frozenset(ALL_SCOPES),
}


def parse_scopes(value: str | list[str] | None) -> frozenset[str]:
    """A set of scopes from a space-separated string or a list."""
    if not value:
        return frozenset()
    items = value.split() if isinstance(value, str) else value
    return frozenset(s for s in items if s)


def unknown_scopes(scopes: frozenset[str] | set[str]) -> list[str]:
    """The scopes in ``scopes`` that Dataflow does not define, sorted."""
    return sorted(set(scopes) - set(ALL_SCOPES))
