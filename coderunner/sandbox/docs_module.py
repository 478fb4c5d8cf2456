"""``dataflow_docs``: the document tools, importable by sandboxed programs.

Every function works on the bytes a program was given (``inputs`` carry
files as base64 text, so each function accepts base64 text or bytes) and
never on host paths. Reading and rendering run in the worker; OCR needs the
tesseract binary, which a worker may not start, so :func:`ocr` is a host call
the service answers.

    from dataflow_docs import read_xlsx
    book = read_xlsx(inputs["report"])
    result = book["sheets"][0]["rows"]
"""

from __future__ import annotations

import base64
import binascii
import json
import types
from typing import Any

from coderunner.documents import extract_document, render_report
from coderunner.sandbox.hostcalls import HostChannel

_CHANNEL: HostChannel | None = None


def _bytes(content: bytes | bytearray | str, what: str = "content") -> bytes:
    if isinstance(content, bytes | bytearray):
        return bytes(content)
    if isinstance(content, str):
        try:
            return base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError(f"{what} must be bytes or base64 text: {exc}") from None
    raise TypeError(f"{what} must be bytes or base64 text, not {type(content).__name__}")


def extract(filename: str, content: bytes | str) -> dict[str, Any]:
    """Paragraphs, tables, sheets or pages of a .docx, .xlsx or .pdf, by its name and bytes."""
    return extract_document(filename, _bytes(content))


def read_docx(content: bytes | str) -> dict[str, Any]:
    return extract_document("document.docx", _bytes(content))


def read_xlsx(content: bytes | str) -> dict[str, Any]:
    return extract_document("workbook.xlsx", _bytes(content))


def read_pdf(content: bytes | str) -> dict[str, Any]:
    return extract_document("document.pdf", _bytes(content))


def render(spec: dict[str, Any], fmt: str) -> bytes:
    """A report (headings, paragraphs, tables, charts) as xlsx, docx or pdf bytes."""
    return render_report(spec, fmt)


def render_xlsx(spec: dict[str, Any]) -> bytes:
    return render_report(spec, "xlsx")


def render_docx(spec: dict[str, Any]) -> bytes:
    return render_report(spec, "docx")


def render_pdf(spec: dict[str, Any]) -> bytes:
    return render_report(spec, "pdf")


def ocr(content: bytes | str, lang: str = "eng") -> dict[str, Any]:
    """Text and per-word confidences of a PNG, JPEG, TIFF or scanned PDF (done by the service)."""
    if _CHANNEL is None:
        raise RuntimeError("OCR is not available here")
    _, payload = _CHANNEL.call("ocr", {"lang": str(lang)}, _bytes(content))
    return json.loads(payload)


def sandbox_module(channel: HostChannel | None) -> types.ModuleType:
    """The module object programs import as ``dataflow_docs``."""
    global _CHANNEL
    _CHANNEL = channel
    module = types.ModuleType("dataflow_docs", __doc__)
    for function in (extract, read_docx, read_xlsx, read_pdf, render, render_xlsx, render_docx, render_pdf, ocr):
        setattr(module, function.__name__, function)
    return module
