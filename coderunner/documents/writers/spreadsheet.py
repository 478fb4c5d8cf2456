"""A report as an Excel workbook (openpyxl): one sheet, "Report", read top to bottom.

The title sits in A1; each heading, paragraph and table follows in column A
with a blank row between blocks, so the sheet reads like the document. A
table is a bold, shaded header row and its data rows, numbers stored as
numbers. A chart is a native Excel chart (bar, line or pie) whose series
refer to its table's cells, so editing the numbers in Excel redraws it; it
is anchored where its block stands and takes ``CHART_ROWS`` rows.

Text that starts with ``=`` is stored as text, never as a formula: a report
must not turn its data into something Excel evaluates.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from openpyxl import Workbook
from openpyxl.chart import BarChart, LineChart, PieChart, Reference
from openpyxl.chart._chart import ChartBase
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from coderunner.documents.models import (
    CellValue,
    ChartBlock,
    ChartKind,
    HeadingBlock,
    ParagraphBlock,
    ReportSpec,
    TableBlock,
)

SHEET_TITLE = "Report"
CHART_ROWS = 16  # rows a chart covers at openpyxl's default size (15 x 7.5 cm)
MAX_COLUMN_WIDTH = 60
_HEADING_SIZES = {1: 15, 2: 13, 3: 12, 4: 11, 5: 11, 6: 11}
_HEADER_FILL = PatternFill("solid", start_color="DDE4EE")


@dataclass(frozen=True)
class _TablePlace:
    header_row: int
    last_row: int
    columns: list[str]


def write_xlsx(report: ReportSpec) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.title = SHEET_TITLE
    workbook.properties.title = report.title
    workbook.properties.creator = report.author or "Dataflow"
    widths: dict[int, int] = {}
    tables: dict[int, _TablePlace] = {}
    charts: list[tuple[int, ChartBlock]] = []
    row = 1
    if report.title:
        sheet.cell(row, 1, report.title).font = Font(bold=True, size=18)
        row += 2
    for index, block in enumerate(report.blocks):
        if isinstance(block, HeadingBlock):
            sheet.cell(row, 1, block.text).font = Font(bold=True, size=_HEADING_SIZES[block.level])
            row += 1
        elif isinstance(block, ParagraphBlock):
            _set(sheet, row, 1, block.text).alignment = Alignment(vertical="top")
            row += 2
        elif isinstance(block, TableBlock):
            tables[index] = _write_table(sheet, row, block, widths)
            row = tables[index].last_row + 2
        else:
            charts.append((row, block))
            row += CHART_ROWS + 1
    for anchor_row, chart in charts:
        sheet.add_chart(_chart(sheet, chart, tables[chart.table]), f"A{anchor_row}")
    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = min(width + 2, MAX_COLUMN_WIDTH)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _write_table(sheet: Worksheet, first_row: int, table: TableBlock, widths: dict[int, int]) -> _TablePlace:
    row = first_row
    if table.title:
        sheet.cell(row, 1, table.title).font = Font(italic=True)
        row += 1
    header_row = row
    for column, name in enumerate(table.columns, start=1):
        cell = _set(sheet, row, column, name)
        cell.font = Font(bold=True)
        cell.fill = _HEADER_FILL
        widths[column] = max(widths.get(column, 0), len(name))
    for values in table.rows:
        row += 1
        for column, value in enumerate(values, start=1):
            _set(sheet, row, column, value)
            widths[column] = max(widths.get(column, 0), len(str(value)) if value is not None else 0)
    return _TablePlace(header_row, row, table.columns)


def _set(sheet: Worksheet, row: int, column: int, value: CellValue) -> object:
    cell = sheet.cell(row, column, value)
    if isinstance(value, str) and value.startswith("="):
        cell.data_type = "s"  # text, not a formula
    return cell


def _chart(sheet: Worksheet, block: ChartBlock, place: _TablePlace) -> ChartBase:
    chart: ChartBase
    if block.kind is ChartKind.PIE:
        chart = PieChart()
    elif block.kind is ChartKind.LINE:
        chart = LineChart()
    else:
        chart = BarChart()
        chart.type = "col"
    for name in block.y:
        column = place.columns.index(name) + 1
        data = Reference(sheet, min_col=column, min_row=place.header_row, max_row=place.last_row)
        chart.add_data(data, titles_from_data=True)
    x_column = place.columns.index(block.x) + 1
    chart.set_categories(Reference(sheet, min_col=x_column, min_row=place.header_row + 1, max_row=place.last_row))
    if block.title:
        chart.title = block.title
    if block.kind is not ChartKind.PIE:
        chart.x_axis.title = block.x
        chart.y_axis.title = ", ".join(block.y)
    return chart
