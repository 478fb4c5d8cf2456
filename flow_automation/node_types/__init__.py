"""The node type registry: one module per type, found by looking, not by listing.

Every public module (or subpackage) of this package defines ``NODE_TYPE``, a
:class:`NodeType`. :func:`registry` imports them all once with :mod:`pkgutil`,
so adding a node type means adding one file here and touching nothing else.
Modules whose names start with ``_`` hold what several types share.

A module that forgets ``NODE_TYPE``, or two modules claiming the same id, stop
the service at import: a silently missing node type would only surface when
someone's flow failed to validate.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Mapping
from types import MappingProxyType

from flow_automation.node_types._base import (
    DataConnection,
    EmptyConfig,
    NodeCanceled,
    NodeConfig,
    NodeContext,
    NodeError,
    NodeServices,
    NodeType,
    Port,
    PortKind,
    RunFunction,
)

__all__ = [
    "DataConnection",
    "EmptyConfig",
    "NodeCanceled",
    "NodeConfig",
    "NodeContext",
    "NodeError",
    "NodeServices",
    "NodeType",
    "Port",
    "PortKind",
    "RunFunction",
    "get_node_type",
    "registry",
]


@functools.cache
def registry() -> Mapping[str, NodeType]:
    """Every node type by id, sorted by id; imported on first use and then kept."""
    found: dict[str, NodeType] = {}
    for module_info in pkgutil.iter_modules(__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{module_info.name}")
        node_type = getattr(module, "NODE_TYPE", None)
        if not isinstance(node_type, NodeType):
            raise ImportError(f"{module.__name__} must define NODE_TYPE, a flow_automation.node_types.NodeType")
        if node_type.id in found:
            raise ImportError(f"{module.__name__} declares node type {node_type.id!r}, which another module declares")
        found[node_type.id] = node_type
    return MappingProxyType(dict(sorted(found.items())))


def get_node_type(node_type_id: str) -> NodeType | None:
    return registry().get(node_type_id)
