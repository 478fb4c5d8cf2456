"""Documents made in the tests by the libraries themselves: python-docx, openpyxl, reportlab and Pillow.

Shared by the unit tests of the document functions and the integration tests of their HTTP API.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from pathlib import Path
from typing import Any

import docx
import openpyxl
from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")  # fonts-dejavu-core; Pillow's font otherwise


def make_docx() -> bytes:
    document = docx.Document()
    properties = document.core_properties
    properties.title = "Quarterly review"
    properties.author = "Finance team"
    properties.keywords = "sales, q1"
    properties.created = dt.datetime(2024, 3, 1, 9, 30, tzinfo=dt.UTC)
    document.add_heading("Quarterly review", level=0)
    document.add_heading("Summary", level=1)
    document.add_paragraph("Revenue grew in every region.")
    table = document.add_table(rows=3, cols=2)
    for row, values in zip(table.rows, [("region", "revenue"), ("North", "120"), ("South", "98")], strict=True):
        for cell, value in zip(row.cells, values, strict=True):
            cell.text = value
    document.add_heading("Outlook", level=2)
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def make_xlsx() -> bytes:
    """A sales sheet with a header, a date column, a formula (with an Excel-style cached value) and a merged row."""
    workbook = openpyxl.Workbook()
    sales = workbook.active
    assert sales is not None
    sales.title = "Sales"
    sales.append(["region", "units", "price", "total", "day"])
    sales.append(["North", 3, 2.5, "=B2*C2", dt.date(2024, 1, 31)])
    sales.append(["South", 4, 1.0, "=B3*C3", dt.datetime(2024, 2, 1, 14, 30)])
    sales.append([None, None, None, None, None])
    sales["A5"] = "Note across two columns"
    sales.merge_cells("A5:B5")
    plain = workbook.create_sheet("Matrix")
    plain.append([1, 2, 3])
    plain.append([4, 5, 6])
    buffer = io.BytesIO()
    workbook.save(buffer)
    # openpyxl writes formulas without results; Excel stores the result next to the formula.
    return with_cached_values(buffer.getvalue(), {"B2*C2": "7.5", "B3*C3": "4"})


def with_cached_values(content: bytes, values: dict[str, str]) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                for formula, value in values.items():
                    data = data.replace(f"<f>{formula}</f><v></v>".encode(), f"<f>{formula}</f><v>{value}</v>".encode())
            target.writestr(item, data)
    return output.getvalue()


def with_sheet_xml(content: bytes, sheet_xml: bytes) -> bytes:
    source = zipfile.ZipFile(io.BytesIO(content))
    output = io.BytesIO()
    with zipfile.ZipFile(output, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            is_sheet = item.filename == "xl/worksheets/sheet1.xml"
            target.writestr(item, sheet_xml if is_sheet else source.read(item))
    return output.getvalue()


def make_pdf(pages: int = 2) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=A4, title="Inventory", author="Warehouse")
    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph("Inventory report", styles["Title"])]
    table = Table([["item", "count"], ["bolts", "40"], ["nuts", "12"]])
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, "black")]))
    story.append(table)
    for number in range(2, pages + 1):
        story += [PageBreak(), Paragraph(f"Page {number} notes", styles["BodyText"])]
    document.build(story)
    return buffer.getvalue()


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    if FONT_PATH.exists():
        return ImageFont.truetype(str(FONT_PATH), size)
    return ImageFont.load_default(size=size)


def text_image(lines: list[str], *, mode: str = "L", size: tuple[int, int] = (1000, 260)) -> Image.Image:
    image = Image.new(mode, size, "white" if mode != "RGBA" else (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((30, 30 + index * 90), line, font=font(48), fill="black")
    return image


def encoded(image: Image.Image, image_format: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, image_format, **options)
    return buffer.getvalue()


def scanned_pdf(images: list[Image.Image]) -> bytes:
    """A PDF whose pages are only pictures, like a scanner makes: no text layer."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, pagesize=A4)
    for image in images:
        width, height = A4
        page.drawImage(ImageReader(image), 40, height - 40 - 200, width=width - 80, height=200 * image.height / 260)
        page.showPage()
    page.save()
    return buffer.getvalue()


def all_text(result: Any) -> str:
    """Every string in an extraction result, joined: for checks that content survived a round trip."""
    if isinstance(result, str):
        return result
    if isinstance(result, dict):
        return "\n".join(all_text(value) for value in result.values())
    if isinstance(result, list):
        return "\n".join(all_text(value) for value in result)
    return str(result) if result is not None else ""


def recognised(result: dict[str, Any]) -> set[str]:
    return {word["text"].lower().strip(".,") for word in result["words"]}
