"""A report as a PDF (reportlab platypus), A4 portrait.

Headings and paragraphs use reportlab's sample styles (Title, Heading1-6,
BodyText); text is escaped, since platypus paragraphs read a small markup
language and report data must not be interpreted as markup. Tables have a
grid (which is also what lets pdfplumber find them again) and a shaded
header row repeated on every page they span; columns share the page width,
and long cell text wraps. Charts are vector drawings (reportlab.graphics).

The built-in PDF fonts (Helvetica) cover Latin-1 only; other scripts need an
embedded TrueType font, which this writer does not carry yet.
"""

from __future__ import annotations

import io
from xml.sax.saxutils import escape

from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.charts.piecharts import Pie
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, LayoutError, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from coderunner.documents.errors import DocumentError
from coderunner.documents.models import (
    CellValue,
    ChartBlock,
    ChartKind,
    HeadingBlock,
    ParagraphBlock,
    ReportSpec,
    TableBlock,
)

MARGIN = 2 * cm
CHART_HEIGHT = 7 * cm
TABLE_PIECE_ROWS = 200  # rows per reportlab Table; see _tables
WRAP_FROM_CHARS = 30  # shorter cell text is drawn as a plain string (much faster than a Paragraph)
_TABLE_STYLE = TableStyle(
    [
        ("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#DDE4EE")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("FONTSIZE", (0, 0), (-1, -1), 9),
    ]
)
PALETTE = [colors.HexColor(code) for code in ("#4472C4", "#ED7D31", "#A5A5A5", "#FFC000", "#5B9BD5", "#70AD47")]


def write_pdf(report: ReportSpec) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN,
        title=report.title or "",
        subject=report.title or "",
        author=report.author or "Dataflow",
        creator="Dataflow",
    )
    styles = getSampleStyleSheet()
    cell_style = ParagraphStyle("Cell", parent=styles["BodyText"], fontSize=9, leading=11)
    story: list[Flowable] = []
    if report.title:
        story.append(Paragraph(escape(report.title), styles["Title"]))
    for block in report.blocks:
        if isinstance(block, HeadingBlock):
            story.append(Paragraph(escape(block.text), styles[f"Heading{block.level}"]))
        elif isinstance(block, ParagraphBlock):
            story.append(Paragraph(escape(block.text).replace("\n", "<br/>"), styles["BodyText"]))
        elif isinstance(block, TableBlock):
            if block.title:
                story.append(Paragraph(escape(block.title), styles["Italic"]))
            story += [*_tables(block, document.width, cell_style), Spacer(1, 0.4 * cm)]
        else:
            story += [_chart(block, report.chart_data(block), document.width), Spacer(1, 0.4 * cm)]
    try:
        document.build(story)
    except LayoutError as exc:
        raise DocumentError(f"The report cannot be laid out on A4 pages: {exc}") from exc
    return buffer.getvalue()


def _tables(block: TableBlock, width: float, cell_style: ParagraphStyle) -> list[Table]:
    """The table as consecutive pieces of ``TABLE_PIECE_ROWS`` rows, each with the header.

    reportlab measures all remaining rows of a table again at every page break,
    which makes one long table quadratic (50,000 rows took minutes); pieces keep
    it linear, at the price of the header showing again every few pages.
    """
    header = [Paragraph(f"<b>{escape(name)}</b>", cell_style) for name in block.columns]
    column_widths = [width / len(block.columns)] * len(block.columns)
    pieces = []
    for start in range(0, max(len(block.rows), 1), TABLE_PIECE_ROWS):
        rows = [[_cell(value, cell_style) for value in row] for row in block.rows[start : start + TABLE_PIECE_ROWS]]
        table = Table([header, *rows], colWidths=column_widths, repeatRows=1)
        table.setStyle(_TABLE_STYLE)
        pieces.append(table)
    return pieces


def _cell(value: CellValue, style: ParagraphStyle) -> str | Paragraph:
    text = "" if value is None else str(value)
    if len(text) < WRAP_FROM_CHARS and "\n" not in text:
        return text
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _chart(block: ChartBlock, table: TableBlock, width: float) -> Drawing:
    categories = ["" if value is None else str(value) for value in table.column(block.x)]
    series = [[float(value or 0) for value in table.column(name)] for name in block.y]  # type: ignore[arg-type]
    drawing = Drawing(width, CHART_HEIGHT)
    top = CHART_HEIGHT - (18 if block.title else 0)
    if block.title:
        drawing.add(String(width / 2, CHART_HEIGHT - 12, block.title, textAnchor="middle", fontSize=11))
    if block.kind is ChartKind.PIE:
        pie = Pie()
        pie.x, pie.y, pie.width, pie.height = 20, 10, top - 20, top - 20
        pie.data, pie.labels = series[0], categories
        for index in range(len(categories)):
            pie.slices[index].fillColor = PALETTE[index % len(PALETTE)]
        drawing.add(pie)
        return drawing
    plot = HorizontalLineChart() if block.kind is ChartKind.LINE else VerticalBarChart()
    plot.x, plot.y, plot.width, plot.height = 40, 30, width - 150, top - 45
    plot.data = series
    plot.categoryAxis.categoryNames = categories
    lowest = min(min(values) for values in series)
    plot.valueAxis.valueMin = min(0.0, lowest)
    for index in range(len(series)):
        color = PALETTE[index % len(PALETTE)]
        if block.kind is ChartKind.LINE:
            plot.lines[index].strokeColor = color
        else:
            plot.bars[index].fillColor = color
    drawing.add(plot)
    legend = Legend()
    legend.x, legend.y, legend.alignment = width - 100, top - 20, "right"
    legend.colorNamePairs = [(PALETTE[index % len(PALETTE)], name) for index, name in enumerate(block.y)]
    drawing.add(legend)
    return drawing
