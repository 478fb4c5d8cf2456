"""The shapes of what extraction and OCR return, as models.

The readers build plain dicts (cheaper for a sheet of a million cells than
model instances); these models describe those dicts for the OpenAPI
document, and the unit tests validate every reader's output against them,
so the description cannot drift from the code.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Result(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DocumentProperties(_Result):
    """Core properties, under the same names for every format; missing ones are null."""

    model_config = ConfigDict(frozen=True, extra="allow")

    title: str | None = None
    author: str | None = None
    subject: str | None = None
    keywords: str | None = None
    created: str | None = Field(None, description="ISO 8601")
    modified: str | None = Field(None, description="ISO 8601")


class DocxParagraph(_Result):
    index: int = Field(description="position in the body, counting paragraphs and tables")
    text: str
    style: str | None
    heading_level: int | None = Field(description="1-9 for 'Heading N', 0 for 'Title', else null")


class DocxTable(_Result):
    index: int = Field(description="position in the body, counting paragraphs and tables")
    rows: list[list[str]]


class DocxDocument(_Result):
    type: Literal["docx"]
    filename: str
    properties: DocumentProperties
    paragraphs: list[DocxParagraph]
    tables: list[DocxTable]
    truncated: bool


class MergedRange(_Result):
    range: str = Field(examples=["A1:C1"])
    value: Any = Field(description="the top-left cell's value, also filled into every covered cell")


class XlsxSheet(_Result):
    name: str
    hidden: bool
    range: str | None = Field(description="the used range read, e.g. 'A1:D40'; null for an empty sheet")
    header_row: int | None = Field(description="the row number of the detected header")
    header: list[str] | None
    rows: list[dict[str, Any]] | list[list[Any]] = Field(
        description="records keyed by the header when one was detected, else lists of values"
    )
    merged: list[MergedRange]
    formulas: dict[str, str] = Field(description="cell reference to formula text, e.g. {'C2': '=A2+B2'}")
    truncated: bool


class XlsxDocument(_Result):
    type: Literal["xlsx"]
    filename: str
    properties: DocumentProperties
    sheet_count: int
    sheets: list[XlsxSheet]
    truncated: bool
    warnings: list[str] = Field(description="what openpyxl could not read (extensions, ...)")


class PdfPage(_Result):
    number: int
    width: float = Field(description="in points")
    height: float = Field(description="in points")
    text: str
    tables: list[list[list[str | None]]]


class PdfDocument(_Result):
    type: Literal["pdf"]
    filename: str
    properties: DocumentProperties
    metadata: dict[str, Any] = Field(description="the document information dictionary, dates as ISO 8601")
    page_count: int
    pages: list[PdfPage]
    truncated: bool


ExtractedDocument = Annotated[DocxDocument | XlsxDocument | PdfDocument, Field(discriminator="type")]


class WordBox(_Result):
    left: int
    top: int
    width: int
    height: int


class OcrWord(_Result):
    text: str
    confidence: float = Field(ge=0, le=100)
    page: int
    box: WordBox = Field(description="in pixels of the page image")


class OcrPage(_Result):
    number: int
    width: int = Field(description="in pixels")
    height: int = Field(description="in pixels")
    text: str
    confidence: float | None = Field(description="mean word confidence; null for a page without words")


class OcrResult(_Result):
    type: Literal["png", "jpeg", "tiff", "pdf"]
    filename: str
    lang: str
    page_count: int
    pages: list[OcrPage]
    text: str
    words: list[OcrWord]
    truncated: bool
