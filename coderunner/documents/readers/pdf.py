"""Reading a PDF with pdfplumber: text and tables per page, page count, metadata.

Text is pdfplumber's layout-aware ``extract_text``; tables are its
``extract_tables`` with the default (ruling-line) strategy, each a list of
rows of cell text (``null`` for an empty cell). A scanned page has no text
layer and reads as empty text: send it to OCR instead.

``metadata`` is the document information dictionary as stored (``Title``,
``Author``, ``CreationDate``...) with PDF dates converted to ISO 8601;
``properties`` holds the same facts under the names the .docx and .xlsx
readers use. At most ``MAX_PDF_PAGES`` pages are read (``truncated`` says
whether there were more); ``page_count`` is always the real count.
"""

from __future__ import annotations

import io
from typing import Any

import pdfplumber
from pdfplumber.page import Page

from coderunner.documents import limits
from coderunner.documents.errors import parsing
from coderunner.documents.values import json_value, pdf_date, text_or_none

KIND = "a PDF"
_DATES = frozenset({"CreationDate", "ModDate"})
_PROPERTIES = {
    "title": "Title",
    "author": "Author",
    "subject": "Subject",
    "keywords": "Keywords",
    "creator": "Creator",
    "producer": "Producer",
    "created": "CreationDate",
    "modified": "ModDate",
}


def read_pdf(filename: str, content: bytes) -> dict[str, Any]:
    with parsing(filename, KIND):
        pdf = pdfplumber.open(io.BytesIO(content))
    with pdf:
        with parsing(filename, KIND):
            all_pages = pdf.pages
            metadata = {
                str(key): pdf_date(value) if key in _DATES else json_value(value) for key, value in pdf.metadata.items()
            }
        pages = []
        for number, page in enumerate(all_pages[: limits.MAX_PDF_PAGES], start=1):
            with parsing(filename, KIND, f"page {number}: "):
                pages.append(_read_page(number, page))
    return {
        "type": "pdf",
        "filename": filename,
        "properties": {name: text_or_none(metadata.get(key)) for name, key in _PROPERTIES.items()},
        "metadata": metadata,
        "page_count": len(all_pages),
        "pages": pages,
        "truncated": len(all_pages) > limits.MAX_PDF_PAGES,
    }


def _read_page(number: int, page: Page) -> dict[str, Any]:
    try:
        return {
            "number": number,
            "width": float(page.width),
            "height": float(page.height),
            "text": page.extract_text() or "",
            "tables": [[[json_value(cell) for cell in row] for row in table] for table in page.extract_tables()],
        }
    finally:
        page.close()  # drops the page's parsed objects; a long PDF would otherwise keep them all
