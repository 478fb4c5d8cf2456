"""What every node type is made of: ports, a config model, a ``run`` function.

A node type is data, not a class hierarchy: :class:`NodeType` bundles the
type's id, its place in the designer's palette, its input and output ports,
the pydantic model of its config and the function that does the work. The
validator reads the ports and the config model; the designer reads their
JSON form (:meth:`NodeType.describe`); the executor calls ``run``.

``run(context, inputs) -> outputs`` is a plain blocking function: pandas work
holds the CPU, so the executor calls it in a worker thread or process, never
on an event loop. ``inputs`` maps input port names to values (tables arrive
as pandas DataFrames); the result maps output port names to values. A port
marked ``conditional`` may be missing from the result, and whatever depends
on a missing conditional output is skipped (this is how ``branch`` works).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Generic, Literal, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:
    from common.settings import Settings
    from flow_automation.coderunner_client import CoderunnerClient

ConfigT = TypeVar("ConfigT", bound=BaseModel)

#: Node type ids: dotted lowercase words, e.g. ``transform.filter``.
NODE_TYPE_ID = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")


class PortKind(StrEnum):
    """What travels through a port."""

    TABLE = "table"  # a pandas DataFrame
    JSON = "json"  # JSON-compatible data: dicts, lists, scalars
    TEXT = "text"  # a str
    BYTES = "bytes"  # a file's content
    ANY = "any"  # whatever the upstream node produced


@dataclass(frozen=True, kw_only=True)
class Port:
    """A named input or output of a node type."""

    name: str
    kind: PortKind
    description: str = ""
    #: Inputs: the flow must connect it. Outputs: always present in the result.
    required: bool = True
    #: Outputs only: present only when the node takes that side (see ``branch``).
    conditional: bool = False


class NodeConfig(BaseModel):
    """Base of every config model: frozen, and unknown keys are an error, not silently ignored."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class EmptyConfig(NodeConfig):
    """For node types that take no configuration."""


@dataclass(frozen=True, kw_only=True)
class DataConnection:
    """A data connection with its secret in the clear: only ever in an executor's memory."""

    id: str
    kind: Literal["sql", "mongo"]
    #: A SQLAlchemy URL or a MongoDB URI, credentials included.
    url: str
    #: For MongoDB: the database to use when the URI names none.
    database: str | None = None


class NodeServices(Protocol):
    """What the executor lends a node: connections, coderunner, subflows.

    Every method blocks (node code runs in a worker thread). Errors a user can
    fix come out as :class:`NodeError`.
    """

    settings: Settings

    def connection(self, connection_id: str) -> DataConnection:
        """The data connection ``connection_id``, decrypted; NodeError when it does not exist."""
        ...

    def coderunner(self) -> CoderunnerClient:
        """An HTTP client for coderunner's API (base URL set, service token attached)."""
        ...

    def run_subflow(
        self, flow_id: str, *, params: Mapping[str, Any], version: int | None, timeout_s: float | None
    ) -> dict[str, Any]:
        """Run flow ``flow_id`` as a child run, wait for it, return its final outputs by ``"<node>.<output>"``."""
        ...


@dataclass(frozen=True, kw_only=True)
class NodeContext(Generic[ConfigT]):
    """What a node's ``run`` knows besides its inputs.

    Deliberately small: the executor fills it in, and node code must not reach
    into the executor's state. Long-running nodes check ``cancelled`` between
    steps and stop (raising :class:`NodeCanceled`) once it is set: that is how
    a cancel or a task timeout reaches them.
    """

    run_id: str
    node_id: str
    config: ConfigT
    params: Mapping[str, Any] = field(default_factory=dict)
    log: logging.Logger | logging.LoggerAdapter[Any] = field(default_factory=lambda: logging.getLogger("dataflow.node"))
    attempt: int = 1
    #: Seconds this attempt may take (the node's ``timeout_s``); ``None``: no limit.
    timeout_s: float | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    #: ``None`` only in unit tests of nodes that need no services.
    services: NodeServices | None = None

    def require_services(self) -> NodeServices:
        if self.services is None:
            raise NodeError(f"node {self.node_id} needs the executor's services")
        return self.services


RunFunction = Callable[[NodeContext[Any], Mapping[str, Any]], dict[str, Any]]


class NodeCanceled(Exception):
    """The node saw ``context.cancelled`` and stopped early."""


class NodeError(ValueError):
    """A node cannot do its work with the inputs or config it was given.

    The message is for the person who built the flow: it names the column,
    input or value at fault and what was expected instead.
    """


@dataclass(frozen=True, kw_only=True)
class NodeType:
    """One kind of node: its ports, its config model and its ``run`` function."""

    id: str
    title: str
    category: str
    description: str
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    config_model: type[NodeConfig] = EmptyConfig
    run: RunFunction
    #: When set, inputs under any further name are accepted, of this kind (``python``, ``noop``).
    extra_inputs: PortKind | None = None
    #: Each input is also an output of the same name (``noop`` passes its inputs through).
    outputs_mirror_inputs: bool = False
    #: ``run`` only looks at its config and inputs and returns at once (no I/O, no heavy work): the
    #: executor calls it on its event loop instead of handing it to a worker thread.
    instant: bool = False

    def __post_init__(self) -> None:
        if not NODE_TYPE_ID.match(self.id):
            raise ValueError(f"node type id {self.id!r} must be dotted lowercase words, e.g. 'transform.filter'")

    def input_port(self, name: str) -> Port | None:
        """The declared port ``name``, an extra input's port, or ``None`` when the type has no such input."""
        for port in self.inputs:
            if port.name == name:
                return port
        if self.extra_inputs is not None:
            return Port(name=name, kind=self.extra_inputs, required=False)
        return None

    def output_names(self, connected_inputs: Mapping[str, str]) -> list[str]:
        """The outputs a node of this type has, given the inputs it connects."""
        names = [port.name for port in self.outputs]
        if self.outputs_mirror_inputs:
            names += [name for name in connected_inputs if name not in names]
        return names

    def describe(self) -> dict[str, Any]:
        """The type as the designer sees it: palette entry, ports and config JSON Schema."""
        return {
            "id": self.id,
            "title": self.title,
            "category": self.category,
            "description": self.description,
            "inputs": [_describe_port(port) for port in self.inputs],
            "outputs": [_describe_port(port) for port in self.outputs],
            "extra_inputs": self.extra_inputs.value if self.extra_inputs else None,
            "outputs_mirror_inputs": self.outputs_mirror_inputs,
            "config_schema": self.config_model.model_json_schema(),
        }


def _describe_port(port: Port) -> dict[str, Any]:
    return {
        "name": port.name,
        "kind": port.kind.value,
        "description": port.description,
        "required": port.required,
        "conditional": port.conditional,
    }
