"""The flow definition: what people write, in JSON or YAML, and what every version stores.

The shape follows ARCHITECTURE.md ("Flow definitions"). Node ``config`` stays
a plain dict here: each node type validates its own config
(:mod:`flow_automation.flows.validation`), so that an error can name the node
and the field. Unknown top-level keys are refused: a typo such as ``node``
for ``nodes`` must not silently save an empty flow.
"""

from __future__ import annotations

import copy
import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

NODE_ID_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$"
FLOW_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
PARAM_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]{0,63}$"

#: Where an input comes from: ``"<node>.<output>"`` or ``"params.<name>"``.
REFERENCE = re.compile(r"^(?P<source>[A-Za-z_][A-Za-z0-9_-]{0,63})\.(?P<name>[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$")

ParamType = Literal["string", "integer", "number", "boolean", "object", "array", "date", "datetime"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ParamSpec(_Strict):
    """A flow parameter: its type, default, and whether a run must supply it."""

    type: ParamType = "string"
    default: Any = None
    required: bool = False
    description: str = ""


class NodeSpec(_Strict):
    id: str = Field(pattern=NODE_ID_PATTERN, description="unique within the flow")
    type: str = Field(min_length=1, description="a node type id of GET /api/v1/node-types")
    title: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    inputs: dict[str, str] = Field(
        default_factory=dict, description='input name -> "<node>.<output>" or "params.<name>"'
    )
    retries: int = Field(0, ge=0, le=50)
    retry_backoff_s: float = Field(1.0, ge=0, le=3600, description="first retry delay; doubles each attempt")
    timeout_s: float | None = Field(None, gt=0, le=7 * 24 * 3600)
    cache: bool = Field(False, description="reuse outputs for the same config and inputs")


class EdgeSpec(_Strict):
    """An order-only dependency: ``to`` starts after ``from`` ends."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    source: str = Field(alias="from")
    target: str = Field(alias="to")


class CronTrigger(_Strict):
    type: Literal["cron"]
    cron: str = Field(min_length=1, description="5- or 6-field cron expression, or @daily and friends")
    timezone: str = "UTC"
    params: dict[str, Any] = Field(default_factory=dict)
    enabled: bool = True


class WebhookTrigger(_Strict):
    type: Literal["webhook"]
    enabled: bool = True


class KafkaTrigger(_Strict):
    type: Literal["kafka"]
    topic: str = Field(pattern=r"^[A-Za-z0-9._-]{1,249}$")
    group: str | None = Field(None, description="consumer group; default dataflow.trigger.<flow>")
    dedupe_key: str | None = Field(
        None, description="dotted path of a field naming the message; default: topic, partition and offset"
    )
    params: dict[str, Any] = Field(default_factory=dict, description="merged under the message's params")
    enabled: bool = True


Trigger = Annotated[CronTrigger | WebhookTrigger | KafkaTrigger, Field(discriminator="type")]


class FlowDefinition(_Strict):
    id: str | None = Field(None, pattern=FLOW_ID_PATTERN, description="default: a slug of the name")
    name: str = Field(min_length=1, max_length=200)
    description: str = ""
    params: dict[Annotated[str, Field(pattern=PARAM_NAME_PATTERN)], ParamSpec] = Field(default_factory=dict)
    nodes: list[NodeSpec] = Field(min_length=1, max_length=5000)
    edges: list[EdgeSpec] = Field(default_factory=list)
    triggers: list[Trigger] = Field(default_factory=list)
    concurrency: int = Field(16, ge=1, le=10_000, description="runs of this flow that may be active at once")
    tags: list[str] = Field(default_factory=list)
    ui: dict[str, Any] = Field(default_factory=dict, description="designer state: node positions and the like")

    def node(self, node_id: str) -> NodeSpec | None:
        return next((node for node in self.nodes if node.id == node_id), None)


def slugify(name: str) -> str:
    """``"Daily Sales (EU)"`` -> ``"daily-sales-eu"``: a flow id from its name."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:64].strip("-")
    return slug or "flow"


def parse_reference(reference: str) -> tuple[str, str] | None:
    """``"extract.table"`` -> ``("extract", "table")``; ``None`` when it is not a reference."""
    match = REFERENCE.match(reference)
    return (match["source"], match["name"]) if match else None


def coerce_param(spec: ParamSpec, value: Any) -> Any:
    """``value`` checked (and, from strings, converted) to the param's type; ValueError names the problem.

    Strings convert because params often arrive from a URL, a webhook or cron's
    ``{{scheduled_time}}``; other mismatches are errors.
    """
    if value is None:
        return None
    kind = spec.type
    if kind == "string":
        if isinstance(value, str):
            return value
        raise ValueError(f"expected a string, got {type(value).__name__}")
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ValueError(f"expected a boolean, got {value!r}")
    if kind in ("integer", "number"):
        return _coerce_number(kind, value)
    if kind == "object":
        if isinstance(value, dict):
            return value
        raise ValueError(f"expected an object, got {type(value).__name__}")
    if kind == "array":
        if isinstance(value, list):
            return value
        raise ValueError(f"expected an array, got {type(value).__name__}")
    return _coerce_temporal(kind, value)


def _coerce_number(kind: str, value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError(f"expected {'an integer' if kind == 'integer' else 'a number'}, got a boolean")
    if isinstance(value, str):
        try:
            value = int(value) if kind == "integer" else float(value)
        except ValueError:
            raise ValueError(f"expected {'an integer' if kind == 'integer' else 'a number'}, got {value!r}") from None
    if kind == "integer":
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        raise ValueError(f"expected an integer, got {value!r}")
    if isinstance(value, int | float):
        return value
    raise ValueError(f"expected a number, got {type(value).__name__}")


def _coerce_temporal(kind: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 {kind} string, got {type(value).__name__}")
    try:
        if kind == "date":
            return date.fromisoformat(value).isoformat()
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        raise ValueError(f"expected an ISO 8601 {kind}, got {value!r}") from None


def resolve_params(specs: dict[str, ParamSpec], given: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """A run's params: defaults filled in, values coerced; and the problems, by field."""
    problems = [
        {"field": f"params.{name}", "message": f"the flow has no param {name!r}"} for name in given if name not in specs
    ]
    resolved: dict[str, Any] = {}
    for name, spec in specs.items():
        if name in given:
            try:
                resolved[name] = coerce_param(spec, given[name])
            except ValueError as exc:
                problems.append({"field": f"params.{name}", "message": str(exc)})
        elif spec.required and spec.default is None:
            problems.append({"field": f"params.{name}", "message": "required, and the flow gives no default"})
        else:
            resolved[name] = copy.deepcopy(spec.default)  # the run's own value, not the flow's default object
    return resolved, problems
