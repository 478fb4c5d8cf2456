"""Document tools: extract .docx/.xlsx/.pdf, OCR images and scans, render reports.

Pure, synchronous functions over bytes; they never open a host path, so the
same functions serve the HTTP API (which runs them in child processes, see
:mod:`coderunner.document_jobs`) and any other caller that holds the bytes.

- :func:`extract_document` (:mod:`.extract`): paragraphs, tables, sheets, pages.
- :func:`ocr_image` (:mod:`.ocr`): text and per-word confidences from PNG, JPEG, TIFF, PDF.
- :func:`render_report` (:mod:`.render`): a :class:`ReportSpec` to xlsx, docx or pdf.

Errors are :class:`DocumentError` subclasses (:mod:`.errors`); limits are in :mod:`.limits`.
"""

from coderunner.documents.errors import DocumentError
from coderunner.documents.extract import extract_document
from coderunner.documents.models import ReportFormat, ReportSpec
from coderunner.documents.ocr import ocr_image
from coderunner.documents.render import render_report

__all__ = ["DocumentError", "ReportFormat", "ReportSpec", "extract_document", "ocr_image", "render_report"]
