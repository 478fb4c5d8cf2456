"""Reading a Word document (.docx) with python-docx.

The body is read in document order; paragraphs and tables each carry
``index``, their position in that order, so a caller can interleave them
again. A paragraph's ``heading_level`` is 1-9 for the built-in "Heading N"
styles, 0 for "Title", and ``None`` otherwise. Table cells are their text;
a cell merged across columns appears once per grid column it spans, as
python-docx reports it, so every row of a table has the same width.
"""

from __future__ import annotations

import io
import re
from typing import Any

import docx
from docx.table import Table
from docx.text.paragraph import Paragraph

from coderunner.documents import limits
from coderunner.documents.errors import parsing
from coderunner.documents.values import text_or_none

KIND = "a Word document (.docx)"
_HEADING = re.compile(r"^Heading ([1-9])$")
_PROPERTIES = (
    "title",
    "author",
    "subject",
    "keywords",
    "category",
    "comments",
    "content_status",
    "identifier",
    "language",
    "last_modified_by",
    "revision",
    "version",
    "created",
    "modified",
    "last_printed",
)


def read_docx(filename: str, content: bytes) -> dict[str, Any]:
    with parsing(filename, KIND):
        document = docx.Document(io.BytesIO(content))
        properties = {name: text_or_none(getattr(document.core_properties, name)) for name in _PROPERTIES}
    paragraphs: list[dict[str, Any]] = []
    tables: list[dict[str, Any]] = []
    cells_left = limits.MAX_CELLS
    truncated = False
    with parsing(filename, KIND):
        for index, block in enumerate(document.iter_inner_content()):
            if index >= limits.MAX_DOCX_BLOCKS or cells_left <= 0:
                truncated = True
                break
            if isinstance(block, Paragraph):
                paragraphs.append(_paragraph(index, block))
            elif isinstance(block, Table):
                rows, cells_left, cut = _table_rows(block, cells_left)
                truncated = truncated or cut
                tables.append({"index": index, "rows": rows})
    return {
        "type": "docx",
        "filename": filename,
        "properties": properties,
        "paragraphs": paragraphs,
        "tables": tables,
        "truncated": truncated,
    }


def _paragraph(index: int, paragraph: Paragraph) -> dict[str, Any]:
    style = paragraph.style.name if paragraph.style is not None else None
    return {"index": index, "text": paragraph.text, "style": style, "heading_level": heading_level(style)}


def heading_level(style: str | None) -> int | None:
    if style == "Title":
        return 0
    match = _HEADING.match(style or "")
    return int(match.group(1)) if match else None


def _table_rows(table: Table, cells_left: int) -> tuple[list[list[str]], int, bool]:
    rows: list[list[str]] = []
    for row in table.rows:
        cells = [cell.text for cell in row.cells]
        if len(cells) > cells_left:
            return rows, 0, True
        cells_left -= len(cells)
        rows.append(cells)
    return rows, cells_left, False
