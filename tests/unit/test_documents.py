"""The document tools as pure functions, on files the libraries themselves make in each test.

OCR runs the real tesseract binary (Debian's tesseract-ocr); no server is involved.
"""

from __future__ import annotations

import datetime as dt
import io
import pickle
import struct
import zipfile
import zlib
from typing import Any

import openpyxl
import pytest
from pydantic import TypeAdapter

from coderunner.documents import extract_document, limits, ocr_image, render_report
from coderunner.documents.errors import (
    CorruptDocument,
    DocumentError,
    DocumentTooLarge,
    EmptyDocument,
    UnknownLanguage,
    UnsupportedDocumentType,
)
from coderunner.documents.readers.spreadsheet import column_names, detect_header
from coderunner.documents.results import ExtractedDocument, OcrResult
from common.errors import InvalidArgument, InvalidDefinition
from tests.document_samples import (
    all_text,
    encoded,
    make_docx,
    make_pdf,
    make_xlsx,
    recognised,
    scanned_pdf,
    text_image,
    with_sheet_xml,
)

# -- .docx ----------------------------------------------------------------------------------


def test_docx_paragraphs_keep_styles_and_heading_levels_in_body_order() -> None:
    result = extract_document("review.docx", make_docx())
    TypeAdapter(ExtractedDocument).validate_python(result)
    paragraphs = [(p["index"], p["text"], p["style"], p["heading_level"]) for p in result["paragraphs"]]
    assert paragraphs == [
        (0, "Quarterly review", "Title", 0),
        (1, "Summary", "Heading 1", 1),
        (2, "Revenue grew in every region.", "Normal", None),
        (4, "Outlook", "Heading 2", 2),
    ]
    assert result["tables"] == [{"index": 3, "rows": [["region", "revenue"], ["North", "120"], ["South", "98"]]}]
    assert result["truncated"] is False


def test_docx_core_properties_are_reported_with_iso_dates() -> None:
    properties = extract_document("review.docx", make_docx())["properties"]
    assert properties["title"] == "Quarterly review"
    assert properties["author"] == "Finance team"
    assert properties["keywords"] == "sales, q1"
    assert properties["created"] == "2024-03-01T09:30:00+00:00"
    assert properties["subject"] is None


def test_docx_blocks_past_the_limit_are_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_DOCX_BLOCKS", 2)
    result = extract_document("review.docx", make_docx())
    assert result["truncated"] is True
    assert [p["index"] for p in result["paragraphs"]] == [0, 1]


# -- .xlsx ----------------------------------------------------------------------------------


def test_xlsx_header_is_detected_and_rows_become_records_with_cached_formula_values() -> None:
    result = extract_document("sales.xlsx", make_xlsx())
    TypeAdapter(ExtractedDocument).validate_python(result)
    sales = result["sheets"][0]
    assert sales["name"] == "Sales"
    assert sales["header_row"] == 1
    assert sales["header"] == ["region", "units", "price", "total", "day"]
    assert sales["rows"][:2] == [
        {"region": "North", "units": 3, "price": 2.5, "total": 7.5, "day": "2024-01-31"},
        {"region": "South", "units": 4, "price": 1, "total": 4, "day": "2024-02-01T14:30:00"},
    ]
    assert sales["range"] == "A1:E5"


def test_xlsx_formula_text_is_reported_next_to_its_value() -> None:
    sales = extract_document("sales.xlsx", make_xlsx())["sheets"][0]
    assert sales["formulas"] == {"D2": "=B2*C2", "D3": "=B3*C3"}


def test_xlsx_merged_range_is_listed_and_its_value_fills_the_covered_cells() -> None:
    sales = extract_document("sales.xlsx", make_xlsx())["sheets"][0]
    assert sales["merged"] == [{"range": "A5:B5", "value": "Note across two columns"}]
    assert sales["rows"][-1] == {
        "region": "Note across two columns",
        "units": "Note across two columns",
        "price": None,
        "total": None,
        "day": None,
    }
    assert len(sales["rows"]) == 3  # the empty row 4 is not a record


def test_xlsx_sheet_without_a_text_header_gives_plain_rows() -> None:
    result = extract_document("sales.xlsx", make_xlsx())
    matrix = result["sheets"][1]
    assert matrix["header"] is None and matrix["header_row"] is None
    assert matrix["rows"] == [[1, 2, 3], [4, 5, 6]]
    assert result["sheet_count"] == 2 and result["truncated"] is False


def test_xlsx_uncomputed_formula_reads_as_null_with_its_text() -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append([1, "=A1+1"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    result = extract_document("book.xlsx", buffer.getvalue())["sheets"][0]
    assert result["rows"] == [[1, None]]
    assert result["formulas"] == {"B1": "=A1+1"}


def test_header_detection_skips_a_title_above_a_table_and_names_blank_or_repeated_columns() -> None:
    assert detect_header([["Sales report"], [None], ["north", 1], ["south", 2]]) is None
    assert detect_header([["name", "city"], ["Ann", "Paris"]]) == 0
    assert detect_header([["name", "city"]]) is None
    assert detect_header([[1, 2], [3, 4]]) is None
    assert column_names(["a", None, "a", "a_2"], first_column=2) == ["a", "C", "a_2", "a_2_2"]


def test_xlsx_rows_past_the_limit_are_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_SHEET_ROWS", 2)
    result = extract_document("sales.xlsx", make_xlsx())
    assert result["truncated"] is True
    sales = result["sheets"][0]
    assert sales["truncated"] is True and sales["range"] == "A1:E2"
    assert [row["region"] for row in sales["rows"]] == ["North"]


def test_xlsx_cells_past_the_workbook_budget_stop_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_CELLS", 25)
    result = extract_document("sales.xlsx", make_xlsx())
    assert result["truncated"] is True
    assert [sheet["name"] for sheet in result["sheets"]] == ["Sales"]


# -- .pdf -----------------------------------------------------------------------------------


def test_pdf_text_and_tables_per_page_with_metadata() -> None:
    result = extract_document("inventory.pdf", make_pdf(pages=2))
    TypeAdapter(ExtractedDocument).validate_python(result)
    assert result["page_count"] == 2
    first, second = result["pages"]
    assert "Inventory report" in first["text"]
    assert first["tables"] == [[["item", "count"], ["bolts", "40"], ["nuts", "12"]]]
    assert "Page 2 notes" in second["text"] and second["tables"] == []
    assert result["metadata"]["Title"] == "Inventory"
    assert result["properties"]["author"] == "Warehouse"
    assert dt.datetime.fromisoformat(result["properties"]["created"]).year >= 2024


def test_pdf_pages_past_the_limit_are_truncated_but_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_PDF_PAGES", 1)
    result = extract_document("inventory.pdf", make_pdf(pages=3))
    assert result["page_count"] == 3 and len(result["pages"]) == 1 and result["truncated"] is True


# -- detection and errors -------------------------------------------------------------------


def test_content_decides_the_type_not_the_file_name() -> None:
    assert extract_document("misnamed.docx", make_pdf(pages=1))["type"] == "pdf"
    assert extract_document("misnamed.xlsx", make_docx())["type"] == "docx"


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("report.docx", b"this is not a word document"),
        ("report.docx", make_docx()[:2000]),
        ("book.xlsx", with_sheet_xml(make_xlsx(), b"<worksheet><sheetData><row r=")),
        ("scan.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 100),
    ],
    ids=["text-named-docx", "truncated-docx", "broken-sheet-xml", "garbage-pdf"],
)
def test_corrupt_documents_are_422_naming_the_file(filename: str, content: bytes) -> None:
    with pytest.raises(CorruptDocument) as caught:
        extract_document(filename, content)
    assert caught.value.status == 422 and caught.value.code == "invalid_definition"
    assert repr(filename) in caught.value.message


def test_unknown_type_is_a_415_listing_what_is_accepted() -> None:
    with pytest.raises(UnsupportedDocumentType) as caught:
        extract_document("data.bin", b"\x01\x02\x03 binary blob")
    assert caught.value.status == 415
    assert caught.value.details["accepted"] == ["docx", "xlsx", "pdf"]


def test_an_image_sent_to_extract_points_at_ocr() -> None:
    with pytest.raises(UnsupportedDocumentType, match="documents/ocr"):
        extract_document("scan.png", encoded(text_image(["hello"]), "PNG"))


def test_a_zip_that_is_no_office_document_is_unsupported() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(UnsupportedDocumentType):
        extract_document("archive.zip", buffer.getvalue())


def test_legacy_binary_office_files_are_refused_with_advice() -> None:
    with pytest.raises(UnsupportedDocumentType, match=r"\.docx or \.xlsx"):
        extract_document("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512)


def test_password_protected_office_files_are_422_saying_so() -> None:
    encrypted = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512 + "EncryptedPackage".encode("utf-16-le")
    with pytest.raises(CorruptDocument, match="password-protected; save it without"):
        extract_document("secret.xlsx", encrypted)


def test_empty_file_is_a_400() -> None:
    with pytest.raises(EmptyDocument) as caught:
        extract_document("empty.docx", b"")
    assert caught.value.status == 400


def test_archive_inflating_past_the_limit_is_refused_before_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_UNCOMPRESSED_BYTES", 10_000)
    with pytest.raises(DocumentTooLarge) as caught:
        extract_document("review.docx", make_docx())
    assert caught.value.status == 413 and "inflates to" in caught.value.message


def test_document_errors_survive_pickling_between_processes() -> None:
    error = UnsupportedDocumentType("x.bin", None, ["docx"])
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is UnsupportedDocumentType and isinstance(copy, DocumentError)
    assert (copy.message, copy.details, copy.status) == (error.message, error.details, 415)


# -- OCR ------------------------------------------------------------------------------------


def test_ocr_of_a_png_recovers_its_words_with_confidences_and_boxes() -> None:
    image = text_image(["Quarterly revenue grew", "in every region"])
    result = ocr_image(encoded(image, "PNG"), filename="scan.png")
    TypeAdapter(OcrResult).validate_python(result)
    assert {"quarterly", "revenue", "grew", "every", "region"} <= recognised(result)
    assert all(word["confidence"] > 50 and word["page"] == 1 for word in result["words"])
    for word in result["words"]:
        box = word["box"]
        assert 0 <= box["left"] < box["left"] + box["width"] <= image.width
        assert 0 <= box["top"] < box["top"] + box["height"] <= image.height
    assert result["pages"][0]["text"].lower().startswith("quarterly revenue grew\n")
    assert result["text"] == result["pages"][0]["text"]
    assert result["type"] == "png" and result["lang"] == "eng" and result["truncated"] is False


def test_ocr_of_a_jpeg_and_of_text_on_a_transparent_png() -> None:
    jpeg = ocr_image(encoded(text_image(["Invoice number"], mode="RGB"), "JPEG", quality=90))
    assert {"invoice", "number"} <= recognised(jpeg)
    transparent = ocr_image(encoded(text_image(["Shipping address"], mode="RGBA"), "PNG"))
    assert {"shipping", "address"} <= recognised(transparent)


def test_ocr_of_a_multi_frame_tiff_reads_every_frame_as_a_page() -> None:
    first, second = text_image(["First page"]), text_image(["Second page"])
    content = encoded(first, "TIFF", save_all=True, append_images=[second])
    result = ocr_image(content, filename="pages.tiff")
    assert result["page_count"] == 2 and [page["number"] for page in result["pages"]] == [1, 2]
    assert {(word["text"].lower(), word["page"]) for word in result["words"]} >= {("first", 1), ("second", 2)}


def test_ocr_of_a_16_bit_tiff_is_not_clipped_to_white() -> None:
    wide = text_image(["Sixteen bit scan"]).convert("I").point(lambda value: value * 200).convert("I;16")
    assert {"sixteen", "bit", "scan"} <= recognised(ocr_image(encoded(wide, "TIFF")))


def test_ocr_of_a_scanned_pdf_renders_its_pages() -> None:
    result = ocr_image(scanned_pdf([text_image(["Delivery note"])]), filename="scan.pdf")
    assert result["type"] == "pdf" and result["page_count"] == 1
    assert {"delivery", "note"} <= recognised(result)
    page = result["pages"][0]
    assert abs(page["width"] - 2480) <= 1 and abs(page["height"] - 3508) <= 1  # A4 at 300 dpi


def test_ocr_pages_past_the_limit_are_truncated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(limits, "MAX_OCR_PAGES", 1)
    content = encoded(text_image(["One"]), "TIFF", save_all=True, append_images=[text_image(["Two"])])
    result = ocr_image(content)
    assert result["page_count"] == 2 and len(result["pages"]) == 1 and result["truncated"] is True


@pytest.mark.parametrize("lang", ["klingon", "eng+klingon", "eng;rm -rf", ""])
def test_ocr_unknown_language_is_a_400_naming_the_available_ones(lang: str) -> None:
    with pytest.raises(UnknownLanguage) as caught:
        ocr_image(encoded(text_image(["x"]), "PNG"), lang=lang)
    assert caught.value.status == 400 and "available: eng" in caught.value.message
    assert "eng" in caught.value.details["available"] and "osd" not in caught.value.details["available"]


def test_ocr_refuses_an_image_past_the_pixel_limit_before_decoding_it() -> None:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 40_000, 40_000, 8, 0, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    with pytest.raises(DocumentTooLarge) as caught:
        ocr_image(bomb, filename="bomb.png")
    assert caught.value.status == 413


def test_ocr_refuses_office_documents_and_broken_images() -> None:
    with pytest.raises(UnsupportedDocumentType, match="documents/extract"):
        ocr_image(make_docx(), filename="review.docx")
    with pytest.raises(CorruptDocument):
        ocr_image(encoded(text_image(["x"]), "PNG")[:200], filename="cut.png")


# -- rendering ------------------------------------------------------------------------------

SPEC: dict[str, Any] = {
    "title": "Sales Q1",
    "author": "Finance",
    "blocks": [
        {"type": "heading", "text": "Summary", "level": 1},
        {"type": "paragraph", "text": "Revenue grew in every region.\nDetails follow."},
        {"type": "table", "columns": ["region", "revenue"], "rows": [["North", 120.5], ["South", 98], ["East", None]]},
        {"type": "heading", "text": "By region", "level": 2},
        {"type": "chart", "kind": "bar", "table": 2, "x": "region", "y": ["revenue"], "title": "Revenue"},
    ],
}


def without_charts(spec: dict[str, Any]) -> dict[str, Any]:
    return {**spec, "blocks": [block for block in spec["blocks"] if block["type"] != "chart"]}


@pytest.mark.parametrize("fmt", ["xlsx", "docx", "pdf"])
def test_rendered_report_extracts_back_to_its_content(fmt: str) -> None:
    spec = without_charts(SPEC) if fmt == "docx" else SPEC
    content = render_report(spec, fmt)
    result = extract_document(f"report.{fmt}", content)
    assert result["type"] == fmt
    assert result["properties"]["title"] == "Sales Q1" and result["properties"]["author"] == "Finance"
    text = all_text(result)
    for expected in ("Sales Q1", "Summary", "Revenue grew in every region.", "Details follow.", "By region"):
        assert expected in text
    for expected in ("region", "revenue", "North", "120.5", "South", "98", "East"):
        assert expected in text


def test_rendered_docx_uses_heading_styles_and_a_real_table() -> None:
    result = extract_document("report.docx", render_report(without_charts(SPEC), "docx"))
    assert [(p["text"], p["heading_level"]) for p in result["paragraphs"] if p["heading_level"] is not None] == [
        ("Sales Q1", 0),
        ("Summary", 1),
        ("By region", 2),
    ]
    assert result["tables"][0]["rows"] == [["region", "revenue"], ["North", "120.5"], ["South", "98"], ["East", ""]]


def test_rendered_pdf_table_is_found_again_by_pdfplumber() -> None:
    result = extract_document("report.pdf", render_report(SPEC, "pdf"))
    assert result["pages"][0]["tables"][0] == [["region", "revenue"], ["North", "120.5"], ["South", "98"], ["East", ""]]


def test_rendered_xlsx_has_a_native_chart_and_numbers_stay_numbers() -> None:
    workbook = openpyxl.load_workbook(io.BytesIO(render_report(SPEC, "xlsx")))
    sheet = workbook["Report"]
    assert len(sheet._charts) == 1
    values = [row for row in sheet.iter_rows(values_only=True) if row[0] == "North"]
    assert values == [("North", 120.5)]


@pytest.mark.parametrize("kind", ["bar", "line", "pie"])
@pytest.mark.parametrize("fmt", ["xlsx", "pdf"])
def test_every_chart_kind_renders(kind: str, fmt: str) -> None:
    spec = {**SPEC, "blocks": [*SPEC["blocks"][:4], {**SPEC["blocks"][4], "kind": kind}]}
    content = render_report(spec, fmt)
    assert extract_document(f"chart.{fmt}", content)["type"] == fmt


def test_text_that_looks_like_a_formula_is_stored_as_text() -> None:
    spec = {"blocks": [{"type": "table", "columns": ["cell"], "rows": [['=HYPERLINK("http://x")']]}]}
    sheet = openpyxl.load_workbook(io.BytesIO(render_report(spec, "xlsx")))["Report"]
    cell = sheet["A2"]
    assert cell.value == '=HYPERLINK("http://x")' and cell.data_type == "s"


def test_markup_and_control_characters_in_text_are_rendered_literally() -> None:
    spec = {"title": "a <b>bold</b> & co", "blocks": [{"type": "paragraph", "text": "nul\x00 here\x07"}]}
    for fmt in ("docx", "pdf", "xlsx"):
        text = all_text(extract_document(f"r.{fmt}", render_report(spec, fmt)))
        assert "a <b>bold</b> & co" in text and "nul here" in text


def test_docx_report_with_a_chart_is_refused_naming_the_block() -> None:
    with pytest.raises(InvalidDefinition) as caught:
        render_report(SPEC, "docx")
    assert caught.value.details == [{"field": "blocks.4", "message": "charts are drawn in xlsx and pdf only"}]


@pytest.mark.parametrize(
    ("blocks", "message"),
    [
        ([{"type": "paragraph", "text": "x"}, {"type": "chart", "table": 0, "x": "a", "y": ["b"]}], "not the index"),
        ([{"type": "table", "columns": ["a", "b"], "rows": [["x"]]}], "rows[0] has 1 cells"),
        (
            [
                {"type": "table", "columns": ["a", "b"], "rows": [["x", "text"]]},
                {"type": "chart", "table": 0, "x": "a", "y": ["b"]},
            ],
            "only numbers",
        ),
        (
            [
                {"type": "table", "columns": ["a", "b", "c"], "rows": [["x", 1, 2]]},
                {"type": "chart", "kind": "pie", "table": 0, "x": "a", "y": ["b", "c"]},
            ],
            "exactly one",
        ),
        (
            [{"type": "table", "columns": ["a"], "rows": [["x"]]}, {"type": "chart", "table": 0, "x": "z", "y": ["a"]}],
            "['z']",
        ),
        ([{"type": "video", "url": "x"}], "does not match any of the expected tags"),
    ],
    ids=["chart-of-a-paragraph", "short-row", "text-series", "pie-of-two", "unknown-column", "unknown-block"],
)
def test_invalid_specs_are_refused_with_field_details(blocks: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(InvalidDefinition) as caught:
        render_report({"blocks": blocks}, "pdf")
    assert any(message in detail["message"] for detail in caught.value.details), caught.value.details


def test_unknown_report_format_is_a_400() -> None:
    with pytest.raises(InvalidArgument, match="xlsx, docx, pdf"):
        render_report(SPEC, "odt")


def test_too_many_cells_are_refused() -> None:
    rows = [[index, index] for index in range(limits.MAX_RENDER_CELLS // 2 + 1)]
    with pytest.raises(InvalidDefinition) as caught:
        render_report({"blocks": [{"type": "table", "columns": ["a", "b"], "rows": rows}]}, "xlsx")
    assert "at most" in caught.value.details[0]["message"]
