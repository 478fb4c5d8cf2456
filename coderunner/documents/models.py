"""The report spec that :func:`coderunner.documents.render.render_report` turns into a file.

A report is a title and a list of blocks, laid out top to bottom::

    {
      "title": "Sales, Q1",
      "author": "Finance",
      "blocks": [
        {"type": "heading", "text": "Summary", "level": 1},
        {"type": "paragraph", "text": "Revenue grew in every region.\\nDetails below."},
        {"type": "table", "columns": ["region", "revenue"], "rows": [["North", 120.5], ["South", 98]]},
        {"type": "chart", "kind": "bar", "table": 2, "x": "region", "y": ["revenue"], "title": "Revenue"}
      ]
    }

One spec renders to every format; each format draws it its own way (see
:mod:`coderunner.documents.writers`). A chart names its data by the *index*
of a table block in ``blocks`` (before or after it) and the columns to use:
``x`` gives the categories, each ``y`` column a series of numbers (a pie
takes exactly one). Charts are drawn in xlsx (a native Excel chart) and pdf;
a docx report with a chart block is refused, since python-docx cannot write
a chart and silently dropping data would be worse.

Text is cleaned of the characters XML cannot carry (control characters other
than tab and newline, lone surrogates) so every format can hold it; a
newline in a paragraph is a line break. Table cells are text, numbers,
booleans or ``null``. Sizes are bounded (:mod:`coderunner.documents.limits`).
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from coderunner.documents import limits

_NOT_IN_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _clean(text: str) -> str:
    return _NOT_IN_XML.sub("", text)


Text = Annotated[str, AfterValidator(_clean)]
CellText = Annotated[str, Field(max_length=limits.MAX_CELL_CHARS), AfterValidator(_clean)]
CellValue = CellText | int | Annotated[float, Field(allow_inf_nan=False)] | bool | None


class ReportFormat(StrEnum):
    XLSX = "xlsx"
    DOCX = "docx"
    PDF = "pdf"

    @property
    def media_type(self) -> str:
        return _MEDIA_TYPES[self]


_MEDIA_TYPES = {
    ReportFormat.XLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ReportFormat.DOCX: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ReportFormat.PDF: "application/pdf",
}


class ChartKind(StrEnum):
    BAR = "bar"
    LINE = "line"
    PIE = "pie"


class _Block(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class HeadingBlock(_Block):
    """A section heading; level 1 is the largest (the report title sits above all levels)."""

    type: Literal["heading"]
    text: Annotated[Text, Field(min_length=1, max_length=limits.MAX_TEXT_CHARS)]
    level: int = Field(1, ge=1, le=6)


class ParagraphBlock(_Block):
    """Body text; newlines are line breaks within the paragraph."""

    type: Literal["paragraph"]
    text: Annotated[Text, Field(max_length=limits.MAX_TEXT_CHARS)]


class TableBlock(_Block):
    """A table: a header of column names and rows of exactly as many cells."""

    type: Literal["table"]
    columns: list[Annotated[Text, Field(max_length=200)]] = Field(min_length=1, max_length=200)
    rows: list[list[CellValue]] = Field(default_factory=list)
    title: Annotated[Text, Field(max_length=500)] | None = None

    @model_validator(mode="after")
    def _rows_match_columns(self) -> TableBlock:
        for index, row in enumerate(self.rows):
            if len(row) != len(self.columns):
                raise ValueError(f"rows[{index}] has {len(row)} cells but the table has {len(self.columns)} columns")
        return self

    def column(self, name: str) -> list[CellValue]:
        position = self.columns.index(name)
        return [row[position] for row in self.rows]


class ChartBlock(_Block):
    """A chart of a table's columns: ``x`` as categories, each of ``y`` as a series."""

    type: Literal["chart"]
    kind: ChartKind = ChartKind.BAR
    table: int = Field(ge=0, description="index in blocks of the table block holding the data")
    x: str = Field(description="column of the categories")
    y: list[str] = Field(min_length=1, max_length=20, description="columns of the numeric series")
    title: Annotated[Text, Field(max_length=500)] | None = None


Block = Annotated[HeadingBlock | ParagraphBlock | TableBlock | ChartBlock, Field(discriminator="type")]


class ReportSpec(BaseModel):
    """A report: an optional title and author (also written to the file's properties) and its blocks."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    title: Annotated[Text, Field(max_length=500)] | None = None
    author: Annotated[Text, Field(max_length=200)] | None = None
    blocks: list[Block] = Field(default_factory=list, max_length=limits.MAX_RENDER_BLOCKS)

    @field_validator("blocks")
    @classmethod
    def _blocks_fit_and_charts_point_at_tables(cls, blocks: list[Block]) -> list[Block]:
        cells = sum(len(block.rows) * len(block.columns) for block in blocks if isinstance(block, TableBlock))
        if cells > limits.MAX_RENDER_CELLS:
            raise ValueError(f"the tables hold {cells} cells in all; a report holds at most {limits.MAX_RENDER_CELLS}")
        for index, block in enumerate(blocks):
            if isinstance(block, ChartBlock):
                _check_chart(index, block, blocks)
        return blocks

    def chart_data(self, chart: ChartBlock) -> TableBlock:
        table = self.blocks[chart.table]
        assert isinstance(table, TableBlock)  # guaranteed by validation
        return table


def _check_chart(index: int, chart: ChartBlock, blocks: list[Block]) -> None:
    where = f"blocks[{index}] (chart)"
    tables = [position for position, block in enumerate(blocks) if isinstance(block, TableBlock)]
    if chart.table not in tables:
        raise ValueError(
            f"{where}: 'table' is {chart.table}, which is not the index of a table block; tables: {tables}"
        )
    table = blocks[chart.table]
    assert isinstance(table, TableBlock)
    missing = [name for name in [chart.x, *chart.y] if name not in table.columns]
    if missing:
        raise ValueError(f"{where}: column(s) {missing} are not in table {chart.table}'s columns {table.columns}")
    if not table.rows:
        raise ValueError(f"{where}: table {chart.table} has no rows to draw")
    for name in chart.y:
        if any(isinstance(value, bool | str) for value in table.column(name)):
            raise ValueError(f"{where}: column {name!r} must hold only numbers (or null) to be charted")
    if chart.kind is ChartKind.PIE:
        if len(chart.y) != 1:
            raise ValueError(f"{where}: a pie chart takes exactly one 'y' column, got {chart.y}")
        values = [value or 0 for value in table.column(chart.y[0])]
        if any(value < 0 for value in values) or not sum(values):  # type: ignore[operator]
            raise ValueError(f"{where}: a pie chart needs non-negative values with a positive total")
