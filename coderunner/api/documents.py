"""``/api/v1/documents/*``: extract, OCR and render documents (scope ``code:execute``).

``extract`` and ``ocr`` take the document in one of two forms: a
``multipart/form-data`` upload in the field ``file``, or JSON
``{"filename": ..., "content_base64": ...}``. They parse the body themselves
(no ``body=`` in their declarations) because the base handler's parsing is
JSON-only. ``render`` takes a JSON report spec plus ``format`` and answers
with the file itself.

The work runs in child processes (:mod:`coderunner.document_jobs`), never on
the event loop; these handlers only parse, dispatch and answer.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from coderunner.document_jobs import document_jobs
from coderunner.documents import limits
from coderunner.documents.extract import extract_document
from coderunner.documents.models import ReportFormat, ReportSpec
from coderunner.documents.ocr import ocr_image
from coderunner.documents.render import render_report
from coderunner.documents.results import ExtractedDocument, OcrResult
from common.errors import InvalidArgument, UnsupportedMediaType
from common.scopes import CODE_EXECUTE
from common.web import ApiHandler, endpoint
from common.web.handlers import dumps

MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # request bodies of the document endpoints
MULTIPART = "multipart/form-data"
JSON = "application/json"
UPLOAD_TYPES = (MULTIPART, JSON)
_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9._-]+")


class DocumentUpload(BaseModel):
    """A document sent as JSON: its name (a hint for the type, and used in messages) and its bytes in base64."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    filename: str = Field(min_length=1, max_length=255)
    content_base64: str = Field(min_length=1, description="the file's bytes, standard base64 (line breaks allowed)")


class OcrUpload(DocumentUpload):
    lang: str | None = Field(None, description="tesseract language(s), e.g. 'eng' or 'eng+deu'; default 'eng'")


class RenderRequest(ReportSpec):
    """A report spec (see coderunner/README.md) and the format to render it in."""

    format: ReportFormat

    def spec(self) -> ReportSpec:
        """The spec alone, already validated: what goes to the job process, which need not import this module."""
        return ReportSpec.model_construct(title=self.title, author=self.author, blocks=self.blocks)


class DocumentHandler(ApiHandler):
    """Shared by the document endpoints: the larger body limit and the two upload forms."""

    max_body_bytes = MAX_UPLOAD_BYTES

    def upload(self, model: type[DocumentUpload] = DocumentUpload) -> tuple[DocumentUpload | None, str, bytes]:
        """The upload as (JSON body or None, filename, content), from either form."""
        media_type = self.media_type()
        if media_type == MULTIPART:
            files = self.request.files.get("file", [])
            if len(files) != 1:
                fields = sorted({*self.request.files, *self.request.body_arguments})
                problem = "more than one" if files else f"no field 'file' (fields sent: {fields or 'none'})"
                raise InvalidArgument(f"Send exactly one document in the multipart field 'file'; got {problem}")
            return None, (files[0].filename or "upload")[:255], files[0].body
        if media_type != JSON:
            raise UnsupportedMediaType(
                f"Content-Type {media_type or '(none)'!r} is not accepted here; send one of {list(UPLOAD_TYPES)}"
            )
        body = self.parse_body(model, (JSON,))
        try:
            content = base64.b64decode("".join(body.content_base64.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise InvalidArgument(f"content_base64 is not valid base64: {exc}") from exc
        return body, body.filename, content

    async def send_large_json(self, value: Any) -> None:
        """Like ``send_json``, with the encoding off the event loop: a big workbook makes a big answer."""
        payload = await asyncio.to_thread(dumps, value)
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(payload)


class ExtractHandler(DocumentHandler):
    @endpoint(
        scopes=[CODE_EXECUTE],
        summary="Extract paragraphs, tables, sheets or pages from a .docx, .xlsx or .pdf",
        description="Send the file as multipart field 'file' or as JSON {filename, content_base64}.",
        body_types=UPLOAD_TYPES,
        response=ExtractedDocument,
        audited=False,  # computes on the upload, changes nothing
        errors=(400, 413, 415, 422, 429),
    )
    async def post(self) -> None:
        _, filename, content = self.upload()
        result = await document_jobs().run(
            extract_document, filename, content, label=filename, timeout_s=limits.EXTRACT_TIMEOUT_S
        )
        await self.send_large_json(result)


class OcrHandler(DocumentHandler):
    @endpoint(
        scopes=[CODE_EXECUTE],
        summary="Recognise the text of a PNG, JPEG, TIFF or scanned PDF, with per-word confidences",
        description="Send the file as multipart field 'file' or as JSON {filename, content_base64, lang}; "
        "'lang' may also be a query parameter or a form field.",
        body_types=UPLOAD_TYPES,
        response=OcrResult,
        audited=False,  # computes on the upload, changes nothing
        errors=(400, 413, 415, 422, 429),
    )
    async def post(self) -> None:
        body, filename, content = self.upload(OcrUpload)
        lang = (
            getattr(body, "lang", None)
            or self.get_body_argument("lang", None)
            or self.get_query_argument("lang", None)
            or "eng"
        )
        result = await document_jobs().run(
            ocr_image, content, lang=lang, filename=filename, label=filename, timeout_s=limits.OCR_TIMEOUT_S
        )
        await self.send_large_json(result)


class RenderHandler(DocumentHandler):
    @endpoint(
        scopes=[CODE_EXECUTE],
        summary="Render a report spec to .xlsx, .docx or .pdf",
        description="Answers with the file, its Content-Type and a Content-Disposition filename.",
        body=RenderRequest,
        response_type="application/octet-stream",
        audited=False,  # computes on the upload, changes nothing
        errors=(429,),
    )
    async def post(self, *, body: RenderRequest) -> None:
        label = body.title or "report"
        content = await document_jobs().run(
            render_report, body.spec(), body.format.value, label=label, timeout_s=limits.RENDER_TIMEOUT_S
        )
        stem = _UNSAFE_FILENAME.sub("-", body.title or "").strip("-._")[:80] or "report"
        self.set_header("Content-Type", body.format.media_type)
        self.set_header("Content-Disposition", f'attachment; filename="{stem}.{body.format.value}"')
        self.finish(content)
