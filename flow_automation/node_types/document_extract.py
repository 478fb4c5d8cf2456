"""``document.extract``: read a .docx, .xlsx or .pdf through coderunner's document tools.

The file arrives as bytes (see :mod:`._files`); coderunner decides its type
from the content. Three outputs: ``document``, coderunner's whole answer
(paragraphs, sheets, pages, properties); ``text``, all its text in reading
order; and ``table``, one table as a DataFrame: an .xlsx sheet (by name, else
the first) or the n-th table of a .docx or .pdf (its first row the header).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import Field

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeError, NodeType, Port, PortKind
from flow_automation.node_types._coderunner import post
from flow_automation.node_types._files import file_input, upload

#: coderunner's own limit on an extraction (coderunner/documents/limits.py).
EXTRACT_TIMEOUT_S = 60.0


class DocumentExtractConfig(NodeConfig):
    filename: str = Field(
        "document",
        min_length=1,
        max_length=255,
        title="File name",
        description="used in messages and when the content alone does not tell the type; "
        "a name that came with the file wins",
    )
    sheet: str | None = Field(None, min_length=1, title="Sheet", description=".xlsx: the sheet for 'table'")
    table_index: int = Field(
        0, ge=0, title="Table number", description=".docx / .pdf: which table (from 0) becomes 'table'"
    )


def run(context: NodeContext[DocumentExtractConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    content, filename = file_input(inputs)
    body = upload(content, filename or context.config.filename)
    document = post(context, "/api/v1/documents/extract", body, work_timeout_s=EXTRACT_TIMEOUT_S).json()
    return {
        "document": document,
        "text": document_text(document),
        "table": document_table(document, context.config.sheet, context.config.table_index),
    }


def document_text(document: Mapping[str, Any]) -> str:
    """All text of an extracted document, in reading order, one paragraph (or row, or page) per line."""
    kind = document.get("type")
    if kind == "docx":
        return "\n".join(paragraph["text"] for paragraph in document.get("paragraphs", []))
    if kind == "pdf":
        return "\n".join(page["text"] for page in document.get("pages", []))
    lines = []
    for sheet in document.get("sheets", []):
        for row in sheet.get("rows", []):
            cells = row.values() if isinstance(row, Mapping) else row
            lines.append("\t".join("" if cell is None else str(cell) for cell in cells))
    return "\n".join(lines)


def document_table(document: Mapping[str, Any], sheet: str | None, table_index: int) -> pd.DataFrame:
    """The table the config picks; an empty table when the document has none."""
    if document.get("type") == "xlsx":
        return _sheet_table(document.get("sheets", []), sheet)
    if sheet is not None:
        raise NodeError(f"field 'sheet' applies to .xlsx files, but this file is a .{document.get('type')}")
    if document.get("type") == "docx":
        tables = [table["rows"] for table in document.get("tables", [])]
    else:
        tables = [table for page in document.get("pages", []) for table in page.get("tables", [])]
    if not tables:
        return pd.DataFrame()
    if table_index >= len(tables):
        raise NodeError(f"field 'table_index' is {table_index}, but the file has {len(tables)} table(s)")
    header, *rows = tables[table_index] or [[]]
    names = [str(cell) if cell not in (None, "") else f"column_{i + 1}" for i, cell in enumerate(header)]
    return pd.DataFrame(rows, columns=names)


def _sheet_table(sheets: list[dict[str, Any]], name: str | None) -> pd.DataFrame:
    if name is not None:
        chosen = next((item for item in sheets if item["name"] == name), None)
        if chosen is None:
            raise NodeError(f"field 'sheet': no sheet {name!r}; the sheets are {[item['name'] for item in sheets]}")
    elif sheets:
        chosen = sheets[0]
    else:
        return pd.DataFrame()
    rows = chosen.get("rows", [])
    if chosen.get("header"):
        return pd.DataFrame(rows, columns=chosen["header"])
    return pd.DataFrame(rows)


NODE_TYPE = NodeType(
    id="document.extract",
    title="Extract document",
    category="Documents",
    description="Read the text, tables and properties of a Word (.docx), Excel (.xlsx) or PDF file.",
    inputs=(Port(name="file", kind=PortKind.BYTES, description="the document's bytes"),),
    outputs=(
        Port(name="document", kind=PortKind.JSON, description="everything read: paragraphs, sheets or pages"),
        Port(name="text", kind=PortKind.TEXT, description="all the text, in reading order"),
        Port(name="table", kind=PortKind.TABLE, description="the chosen sheet or table (empty if there is none)"),
    ),
    config_model=DocumentExtractConfig,
    run=run,
)
