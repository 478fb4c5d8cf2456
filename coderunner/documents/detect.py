"""What a document is: by its content first, its file name second.

Magic bytes decide, because file names lie (a PDF saved as ``report.docx``
is still a PDF and is read as one). A .docx and a .xlsx are both zip
archives; the archive's ``[Content_Types].xml`` tells them apart. The
extension matters only when the content matches nothing: a file named
``.docx`` whose bytes are not a Word archive is a corrupt .docx (422), while
a file that neither looks nor is named like anything we read is an
unsupported type (415).

Opening an archive here also checks it against the decompression limits of
:mod:`coderunner.documents.limits`, before any library inflates a member.
"""

from __future__ import annotations

import io
import zipfile
from enum import StrEnum
from pathlib import PurePosixPath

from coderunner.documents import limits
from coderunner.documents.errors import CorruptDocument, DocumentTooLarge, EmptyDocument, UnsupportedDocumentType

_CONTENT_TYPES = "[Content_Types].xml"
_MAX_CONTENT_TYPES_BYTES = 1024 * 1024
_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .doc / .xls, and password-protected .docx / .xlsx
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")  # the stream name, in the OLE2 directory


class DocumentKind(StrEnum):
    DOCX = "docx"
    XLSX = "xlsx"
    PDF = "pdf"
    PNG = "png"
    JPEG = "jpeg"
    TIFF = "tiff"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS = {
    DocumentKind.DOCX: "a Word document (.docx)",
    DocumentKind.XLSX: "an Excel workbook (.xlsx)",
    DocumentKind.PDF: "a PDF",
    DocumentKind.PNG: "a PNG image",
    DocumentKind.JPEG: "a JPEG image",
    DocumentKind.TIFF: "a TIFF image",
}

_EXTENSIONS = {
    ".docx": DocumentKind.DOCX,
    ".docm": DocumentKind.DOCX,
    ".xlsx": DocumentKind.XLSX,
    ".xlsm": DocumentKind.XLSX,
    ".pdf": DocumentKind.PDF,
    ".png": DocumentKind.PNG,
    ".jpg": DocumentKind.JPEG,
    ".jpeg": DocumentKind.JPEG,
    ".tif": DocumentKind.TIFF,
    ".tiff": DocumentKind.TIFF,
}

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", DocumentKind.PNG),
    (b"\xff\xd8\xff", DocumentKind.JPEG),
    (b"II*\x00", DocumentKind.TIFF),
    (b"MM\x00*", DocumentKind.TIFF),
)

EXTRACTABLE = (DocumentKind.DOCX, DocumentKind.XLSX, DocumentKind.PDF)
RECOGNISABLE = (DocumentKind.PNG, DocumentKind.JPEG, DocumentKind.TIFF, DocumentKind.PDF)


def detect_kind(filename: str, content: bytes, accepted: tuple[DocumentKind, ...]) -> DocumentKind:
    """The kind of ``content``, which must be one of ``accepted``; raises a :class:`DocumentError` otherwise."""
    if not content:
        raise EmptyDocument(filename)
    claimed = _EXTENSIONS.get(PurePosixPath(filename.replace("\\", "/")).suffix.lower())
    kind = _sniff(filename, content, claimed)
    names = [str(item) for item in accepted]
    if kind is None:
        raise _unrecognised(filename, content, claimed, names)
    if kind not in accepted:
        hint = "Use /api/v1/documents/ocr for images" if kind in RECOGNISABLE else ""
        hint = hint or "Use /api/v1/documents/extract for .docx and .xlsx"
        raise UnsupportedDocumentType(filename, kind.description, names, hint)
    return kind


def _unrecognised(filename: str, content: bytes, claimed: DocumentKind | None, names: list[str]) -> Exception:
    if content.startswith(_OLE2) and _ENCRYPTED_PACKAGE in content:
        kind_name = claimed.description if claimed is not None else "an Office document"
        return CorruptDocument(filename, kind_name, "it is password-protected; save it without a password")
    if content.startswith(_OLE2):
        return UnsupportedDocumentType(
            filename, "legacy binary Office (.doc/.xls)", names, "Save it as .docx or .xlsx first"
        )
    if claimed is not None:
        return CorruptDocument(filename, claimed.description, "its content does not match that format")
    return UnsupportedDocumentType(filename, None, names)


def _sniff(filename: str, content: bytes, claimed: DocumentKind | None) -> DocumentKind | None:
    for magic, kind in _MAGIC:
        if content.startswith(magic):
            return kind
    if b"%PDF-" in content[:1024]:  # readers accept a little junk before the header, so do we
        return DocumentKind.PDF
    if content.startswith(b"PK\x03\x04"):
        return _office_kind(filename, content, claimed)
    return None


def _office_kind(filename: str, content: bytes, claimed: DocumentKind | None) -> DocumentKind | None:
    """DOCX or XLSX from a zip archive's content types, after checking the archive's declared sizes."""
    kind_name = claimed.description if claimed in (DocumentKind.DOCX, DocumentKind.XLSX) else "an Office document"
    content_types: bytes | None = None
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            info = next((member for member in members if member.filename == _CONTENT_TYPES), None)
            if info is not None and info.file_size <= _MAX_CONTENT_TYPES_BYTES:
                content_types = archive.read(info)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, EOFError, ValueError) as exc:
        if claimed is None:
            return None
        raise CorruptDocument(filename, kind_name, f"the zip archive is damaged ({exc})") from exc
    kind = None
    if content_types is not None:
        if b"wordprocessingml.document.main" in content_types or b"ms-word.document.macroEnabled" in content_types:
            kind = DocumentKind.DOCX
        elif b"spreadsheetml.sheet.main" in content_types or b"ms-excel.sheet.macroEnabled" in content_types:
            kind = DocumentKind.XLSX
    if kind is None:
        return _not_office(filename, kind_name, claimed)
    check_archive(filename, members)
    return kind


def _not_office(filename: str, kind_name: str, claimed: DocumentKind | None) -> None:
    if claimed in (DocumentKind.DOCX, DocumentKind.XLSX):
        raise CorruptDocument(filename, kind_name, "the zip archive holds no Word or Excel main part")
    return None


def check_archive(filename: str, members: list[zipfile.ZipInfo]) -> None:
    """Refuse archives whose members would inflate past the limits (zip bombs).

    The declared sizes can be trusted as a bound: ``zipfile`` never inflates
    a member past its declared size, it fails instead.
    """
    if len(members) > limits.MAX_ARCHIVE_MEMBERS:
        raise DocumentTooLarge(
            filename, f"its archive has {len(members)} entries (at most {limits.MAX_ARCHIVE_MEMBERS})"
        )
    total = sum(member.file_size for member in members)
    if total > limits.MAX_UNCOMPRESSED_BYTES:
        raise DocumentTooLarge(
            filename,
            f"its archive inflates to {total} bytes (at most {limits.MAX_UNCOMPRESSED_BYTES})",
        )
