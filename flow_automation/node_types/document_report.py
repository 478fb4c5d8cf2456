"""``document.report``: render tables and text to an .xlsx, .docx or .pdf report through coderunner.

The report is coderunner's report spec (coderunner/README.md, "Document
tools"): a title, an author and blocks (heading, paragraph, table, chart)
top to bottom. A table block may name one of the node's inputs instead of
listing its cells, ``{"type": "table", "input": "sales"}``, and is then
filled from that table (its columns, its rows). With no blocks configured,
every input becomes a table block of its own, titled with its name. A JSON
input ``spec`` replaces the configured title, author and blocks altogether,
for reports built by an upstream ``python`` node.

coderunner checks the spec; what it refuses comes back as a node error
naming the block and field.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import re
from collections.abc import Mapping
from typing import Any, Literal

import pandas as pd
from pydantic import Field, field_validator

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeError, NodeType, Port, PortKind
from flow_automation.node_types._coderunner import post
from flow_automation.node_types._records import python_value

#: coderunner's own limit on rendering (coderunner/documents/limits.py).
RENDER_TIMEOUT_S = 60.0
BLOCK_TYPES = ("heading", "paragraph", "table", "chart")
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class DocumentReportConfig(NodeConfig):
    format: Literal["xlsx", "docx", "pdf"] = Field("xlsx", title="Format")
    title: str | None = Field(None, max_length=500, title="Title")
    author: str | None = Field(None, max_length=200, title="Author")
    blocks: list[dict[str, Any]] = Field(
        default_factory=list,
        title="Blocks",
        description="heading, paragraph, table and chart blocks, top to bottom; a table block may take "
        "{'input': '<input name>'} instead of columns and rows; empty: one table per input",
    )

    @field_validator("blocks")
    @classmethod
    def _blocks_have_known_types(cls, blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, block in enumerate(blocks):
            if block.get("type") not in BLOCK_TYPES:
                raise ValueError(f"blocks[{index}]: 'type' must be one of {list(BLOCK_TYPES)}")
            if "input" in block and (block["type"] != "table" or "rows" in block or "columns" in block):
                raise ValueError(f"blocks[{index}]: 'input' fills a table block, in place of columns and rows")
        return blocks


def run(context: NodeContext[DocumentReportConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    config = context.config
    spec = report_spec(config, inputs)
    body = {**spec, "format": config.format}
    response = post(context, "/api/v1/documents/render", body, work_timeout_s=RENDER_TIMEOUT_S)
    stem = _UNSAFE_FILENAME.sub("-", spec.get("title") or "").strip("-._")[:80] or "report"
    return {"file": response.content, "filename": f"{stem}.{config.format}"}


def report_spec(config: DocumentReportConfig, inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The spec coderunner renders: the ``spec`` input, or the config with its table inputs filled in."""
    if "spec" in inputs:
        spec = inputs["spec"]
        if not isinstance(spec, Mapping):
            raise NodeError(f"input 'spec' must be a JSON object (a report spec), got {type(spec).__name__}")
        return dict(spec)
    tables = {name: value for name, value in inputs.items() if name != "spec"}
    if config.blocks:
        blocks = [_filled(index, block, tables) for index, block in enumerate(config.blocks)]
    else:
        if not tables:
            raise NodeError("the report is empty: configure blocks, or connect at least one table input")
        blocks = [table_block(_table(name, value), title=name) for name, value in tables.items()]
    spec: dict[str, Any] = {"blocks": blocks}
    if config.title is not None:
        spec["title"] = config.title
    if config.author is not None:
        spec["author"] = config.author
    return spec


def _filled(index: int, block: dict[str, Any], tables: Mapping[str, Any]) -> dict[str, Any]:
    if "input" not in block:
        return block
    name = block["input"]
    if name not in tables:
        raise NodeError(f"blocks[{index}]: input {name!r} is not connected; connected inputs: {sorted(tables)}")
    return table_block(_table(name, tables[name]), title=block.get("title"))


def _table(name: str, value: Any) -> pd.DataFrame:
    if isinstance(value, pd.DataFrame):
        return value
    if isinstance(value, list) and all(isinstance(item, Mapping) for item in value):
        return pd.DataFrame(value)
    raise NodeError(f"input {name!r} must be a table or a JSON list of objects, got {type(value).__name__}")


def table_block(table: pd.DataFrame, *, title: str | None = None) -> dict[str, Any]:
    """A table block of ``table``: column names as text, cells as text, numbers, booleans or null."""
    block: dict[str, Any] = {
        "type": "table",
        "columns": [str(column) for column in table.columns],
        "rows": [[cell_value(value) for value in row] for row in table.itertuples(index=False, name=None)],
    }
    if title:
        block["title"] = title
    return block


def cell_value(value: Any) -> str | int | float | bool | None:
    value = python_value(value)
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    return str(value)


NODE_TYPE = NodeType(
    id="document.report",
    title="Render report",
    category="Documents",
    description="Render headings, text, tables and charts to an Excel, Word or PDF report.",
    inputs=(Port(name="spec", kind=PortKind.JSON, description="a whole report spec, over the config", required=False),),
    outputs=(
        Port(name="file", kind=PortKind.BYTES, description="the report file"),
        Port(name="filename", kind=PortKind.TEXT, description="a file name for it, e.g. 'Sales-Q1.xlsx'"),
    ),
    config_model=DocumentReportConfig,
    run=run,
    extra_inputs=PortKind.ANY,
)
