"""Extracting the content of a .docx, .xlsx or .pdf as JSON-ready data.

The format is detected from the bytes (:mod:`coderunner.documents.detect`),
then read by its reader in :mod:`coderunner.documents.readers`; what each
returns is described there and, as models, in
:mod:`coderunner.documents.results`. Every result carries ``type``,
``filename``, ``properties`` and ``truncated``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from coderunner.documents.detect import EXTRACTABLE, DocumentKind, detect_kind
from coderunner.documents.readers.pdf import read_pdf
from coderunner.documents.readers.spreadsheet import read_xlsx
from coderunner.documents.readers.word import read_docx

_READERS: dict[DocumentKind, Callable[[str, bytes], dict[str, Any]]] = {
    DocumentKind.DOCX: read_docx,
    DocumentKind.XLSX: read_xlsx,
    DocumentKind.PDF: read_pdf,
}


def extract_document(filename: str, content: bytes) -> dict[str, Any]:
    """The paragraphs, tables, sheets or pages of a document, with its properties.

    ``filename`` is only a hint (and the name used in error messages); the
    content decides. Raises a :class:`~coderunner.documents.errors.DocumentError`
    for an empty, unknown, corrupt or oversized document.
    """
    kind = detect_kind(filename, content, EXTRACTABLE)
    return _READERS[kind](filename, content)
