"""The document endpoints of the real coderunner service, and the job processes behind them.

Every request goes over HTTP to coderunner started by the ``platform`` fixture,
with tokens from the real authorization server; the files are made in the
tests by the libraries themselves.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import io
import multiprocessing
import os
import time
from typing import Any

import docx
import httpx
import pytest
from PIL import Image

from coderunner.document_jobs import DocumentJobError, DocumentJobs
from coderunner.documents.errors import DocumentTimeout, DocumentTooLarge, UnsupportedDocumentType
from coderunner.documents.extract import extract_document
from common.errors import RateLimited
from tests.document_samples import (
    all_text,
    encoded,
    make_docx,
    make_pdf,
    make_xlsx,
    recognised,
    scanned_pdf,
    text_image,
)
from tests.integration.fixtures.platform import Platform

pytestmark = pytest.mark.integration

EXTRACT = "/api/v1/documents/extract"
OCR = "/api/v1/documents/ocr"
RENDER = "/api/v1/documents/render"
UPLOAD_LIMIT = 50 * 1024 * 1024

SPEC: dict[str, Any] = {
    "title": "Sales Q1",
    "blocks": [
        {"type": "heading", "text": "Summary", "level": 1},
        {"type": "paragraph", "text": "Revenue grew in every region."},
        {"type": "table", "columns": ["region", "revenue"], "rows": [["North", 120.5], ["South", 98]]},
        {"type": "chart", "kind": "line", "table": 2, "x": "region", "y": ["revenue"]},
    ],
}
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}


def _error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    assert "Traceback" not in response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    return body["error"]


def _as_json(filename: str, content: bytes, **extra: Any) -> dict[str, Any]:
    return {"filename": filename, "content_base64": base64.b64encode(content).decode(), **extra}


# -- extract --------------------------------------------------------------------------------


def test_extract_docx_from_a_multipart_upload(platform: Platform) -> None:
    with platform.client("coderunner") as client:
        response = client.post(EXTRACT, files={"file": ("review.docx", make_docx(), "application/octet-stream")})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "docx" and result["filename"] == "review.docx"
    assert [p["style"] for p in result["paragraphs"]][:3] == ["Title", "Heading 1", "Normal"]
    assert result["tables"][0]["rows"][1] == ["North", "120"]
    assert result["properties"]["author"] == "Finance team"


def test_extract_xlsx_from_json_with_header_formulas_and_merged_cells(platform: Platform) -> None:
    with platform.client("coderunner") as client:
        response = client.post(EXTRACT, json=_as_json("sales.xlsx", make_xlsx()))
    assert response.status_code == 200, response.text
    sales = response.json()["sheets"][0]
    assert sales["header"] == ["region", "units", "price", "total", "day"]
    assert sales["rows"][0] == {"region": "North", "units": 3, "price": 2.5, "total": 7.5, "day": "2024-01-31"}
    assert sales["formulas"]["D2"] == "=B2*C2"
    assert sales["merged"] == [{"range": "A5:B5", "value": "Note across two columns"}]


def test_extract_pdf_text_and_tables(platform: Platform) -> None:
    with platform.client("coderunner") as client:
        response = client.post(EXTRACT, files={"file": ("inventory.pdf", make_pdf(pages=2))})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["page_count"] == 2
    assert result["pages"][0]["tables"] == [[["item", "count"], ["bolts", "40"], ["nuts", "12"]]]


# -- OCR ------------------------------------------------------------------------------------


def test_ocr_of_a_png_upload_recovers_its_words_with_confidences(platform: Platform) -> None:
    image = encoded(text_image(["Quarterly revenue grew", "in every region"]), "PNG")
    with platform.client("coderunner") as client:
        response = client.post(OCR, params={"lang": "eng"}, files={"file": ("scan.png", image, "image/png")})
    assert response.status_code == 200, response.text
    result = response.json()
    assert {"quarterly", "revenue", "grew", "every", "region"} <= recognised(result)
    assert all(0 < word["confidence"] <= 100 for word in result["words"])
    assert result["lang"] == "eng" and result["pages"][0]["confidence"] > 50


def test_ocr_of_a_scanned_pdf_sent_as_json_with_a_lang_field(platform: Platform) -> None:
    content = scanned_pdf([text_image(["Delivery note"])])
    with platform.client("coderunner") as client:
        response = client.post(OCR, json=_as_json("scan.pdf", content, lang="eng"))
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["type"] == "pdf" and result["page_count"] == 1
    assert {"delivery", "note"} <= recognised(result)


def test_unknown_ocr_language_is_a_400_naming_the_installed_ones(platform: Platform) -> None:
    image = encoded(text_image(["x"]), "PNG")
    with platform.client("coderunner") as client:
        response = client.post(OCR, data={"lang": "klingon"}, files={"file": ("x.png", image)})
    error = _error(response, 400, "invalid_argument")
    assert "klingon" in error["message"] and "eng" in error["details"]["available"]


def test_a_slow_ocr_does_not_hold_up_other_requests(platform: Platform) -> None:
    pages = [text_image([f"Page number {index}"]) for index in range(6)]
    content = scanned_pdf(pages)
    with (
        platform.client("coderunner") as client,
        platform.client("coderunner") as slow_client,
        concurrent.futures.ThreadPoolExecutor(1) as pool,
    ):
        slow = pool.submit(slow_client.post, OCR, files={"file": ("long.pdf", content)})
        for _ in range(3):
            assert httpx.get(platform.url("coderunner") + "/healthz", timeout=10).status_code == 200
            quick = client.post(EXTRACT, json=_as_json("review.docx", make_docx()))
            assert quick.status_code == 200, quick.text
        assert not slow.done(), "the OCR of six 300-dpi pages ended before three small requests did"
        result = slow.result(timeout=120)
    assert result.status_code == 200, result.text
    assert result.json()["page_count"] == 6


# -- render ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["xlsx", "docx", "pdf"])
def test_render_answers_the_file_and_it_extracts_back(platform: Platform, fmt: str) -> None:
    spec = SPEC if fmt != "docx" else {**SPEC, "blocks": SPEC["blocks"][:3]}
    with platform.client("coderunner") as client:
        response = client.post(RENDER, json={**spec, "format": fmt})
        assert response.status_code == 200, response.text
        assert response.headers["Content-Type"] == MEDIA_TYPES[fmt]
        assert response.headers["Content-Disposition"] == f'attachment; filename="Sales-Q1.{fmt}"'
        assert response.content.startswith(b"%PDF-" if fmt == "pdf" else b"PK\x03\x04")
        extracted = client.post(EXTRACT, files={"file": (f"report.{fmt}", response.content)})
    assert extracted.status_code == 200, extracted.text
    text = all_text(extracted.json())
    assert all(expected in text for expected in ("Sales Q1", "Summary", "Revenue grew", "North", "120.5"))


def test_invalid_render_spec_is_a_422_naming_the_field(platform: Platform) -> None:
    spec = {"format": "pdf", "blocks": [{"type": "table", "columns": ["a", "b"], "rows": [["only one"]]}]}
    with platform.client("coderunner") as client:
        response = client.post(RENDER, json=spec)
    error = _error(response, 422, "invalid_definition")
    assert any(detail["field"].startswith("blocks.0") for detail in error["details"]), error


def test_docx_render_with_a_chart_is_a_422(platform: Platform) -> None:
    with platform.client("coderunner") as client:
        response = client.post(RENDER, json={**SPEC, "format": "docx"})
    assert "cannot hold charts" in _error(response, 422, "invalid_definition")["message"]


# -- refusals -------------------------------------------------------------------------------


def test_bad_base64_is_a_400(platform: Platform) -> None:
    with platform.client("coderunner") as client:
        response = client.post(EXTRACT, json={"filename": "x.docx", "content_base64": "not*base64!"})
    assert "content_base64" in _error(response, 400, "invalid_argument")["message"]


def test_multipart_without_a_file_field_is_a_400(platform: Platform) -> None:
    with platform.client("coderunner") as client:
        response = client.post(EXTRACT, files={"document": ("x.docx", make_docx())})
    message = _error(response, 400, "invalid_argument")["message"]
    assert "'file'" in message and "document" in message


def test_unknown_file_type_is_a_415(platform: Platform) -> None:
    with platform.client("coderunner") as client:
        response = client.post(EXTRACT, files={"file": ("data.bin", b"\x01\x02 not a document")})
    error = _error(response, 415, "unsupported_media_type")
    assert error["details"]["accepted"] == ["docx", "xlsx", "pdf"]


def test_a_body_that_is_neither_multipart_nor_json_is_a_415(platform: Platform) -> None:
    with platform.client("coderunner") as client:
        response = client.post(OCR, content=b"raw bytes", headers={"Content-Type": "image/png"})
    _error(response, 415, "unsupported_media_type")


def test_corrupted_docx_is_a_422(platform: Platform) -> None:
    with platform.client("coderunner") as client:
        response = client.post(EXTRACT, json=_as_json("report.docx", make_docx()[:3000]))
    error = _error(response, 422, "invalid_definition")
    assert "'report.docx'" in error["message"] and error["details"]["type"] == "a Word document (.docx)"


@pytest.mark.parametrize("path", [EXTRACT, OCR, RENDER])
def test_a_token_without_code_execute_is_a_403(platform: Platform, path: str) -> None:
    with platform.client("coderunner", scopes="flows:read") as client:
        response = client.post(path, json={**SPEC, "format": "pdf"} if path == RENDER else _as_json("x.png", b"x"))
    error = _error(response, 403, "insufficient_scope")
    assert error["details"]["required_scopes"] == ["code:execute"]


def test_an_upload_over_the_limit_is_a_413(platform: Platform) -> None:
    with platform.client("coderunner") as client:
        response = client.post(EXTRACT, files={"file": ("huge.pdf", b"%PDF-1.7\n" + b"0" * UPLOAD_LIMIT)})
    _error(response, 413, "payload_too_large")


def test_an_upload_over_the_default_body_limit_but_under_this_one_is_accepted(platform: Platform) -> None:
    noise = Image.frombytes("RGB", (2000, 2000), os.urandom(2000 * 2000 * 3))  # 12 MB that do not compress
    document = docx.Document()
    document.add_paragraph("A photo follows.")
    document.add_picture(io.BytesIO(encoded(noise, "PNG")))
    buffer = io.BytesIO()
    document.save(buffer)
    assert buffer.tell() > 10 * 1024 * 1024  # the default DATAFLOW_MAX_BODY_BYTES
    with platform.client("coderunner") as client:
        response = client.post(EXTRACT, files={"file": ("photo.docx", buffer.getvalue())})
    assert response.status_code == 200, response.text
    assert response.json()["paragraphs"][0]["text"] == "A photo follows."


# -- the job processes ----------------------------------------------------------------------


def _job_children() -> list[str]:
    return [child.name for child in multiprocessing.active_children() if child.name.startswith("document-job")]


def test_a_job_past_its_time_limit_is_killed() -> None:
    async def scenario() -> None:
        with pytest.raises(DocumentTimeout, match=r"longer than 0\.5 s"):
            await DocumentJobs().run(time.sleep, 30, label="sleepy.pdf", timeout_s=0.5)

    asyncio.run(scenario())
    assert _job_children() == []


def test_a_job_that_exhausts_its_memory_is_refused_as_too_large() -> None:
    async def scenario() -> None:
        with pytest.raises(DocumentTooLarge) as caught:
            await DocumentJobs().run(bytearray, 4 * 1024**3, label="bomb.pdf", timeout_s=30)
        assert caught.value.status == 413

    asyncio.run(scenario())


def test_document_errors_cross_the_process_boundary_intact_and_bugs_do_not_pass_as_them() -> None:
    async def scenario() -> None:
        jobs = DocumentJobs()
        with pytest.raises(UnsupportedDocumentType) as caught:
            await jobs.run(extract_document, "data.bin", b"\x01 junk", label="data.bin", timeout_s=30)
        assert caught.value.status == 415 and caught.value.details["filename"] == "data.bin"
        with pytest.raises(DocumentJobError, match="ValueError"):
            await jobs.run(int, "not a number", label="bug", timeout_s=30)

    asyncio.run(scenario())


def test_a_request_waiting_past_the_queue_limit_gets_429() -> None:
    async def scenario() -> None:
        jobs = DocumentJobs(concurrency=1, queue_timeout_s=0.2)
        outcomes = await asyncio.gather(
            jobs.run(time.sleep, 3, label="first", timeout_s=10),
            jobs.run(time.sleep, 3, label="second", timeout_s=10),
            return_exceptions=True,
        )
        assert sorted(type(outcome).__name__ for outcome in outcomes) == ["NoneType", "RateLimited"]
        assert "1 document workers are busy" in str(next(o for o in outcomes if isinstance(o, RateLimited)))

    asyncio.run(scenario())
