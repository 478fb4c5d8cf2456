"""What can be wrong with a document, as errors a client can act on.

Every class subclasses :class:`DocumentError` (an ``InvalidDefinition``, 422)
and, where another status fits better, the matching class of
:mod:`common.errors` first: an unknown file type is also an
``UnsupportedMediaType`` (415), a document too big to open is also a
``PayloadTooLarge`` (413). Code that only cares that "the document was the
problem" catches :class:`DocumentError`; the base handler renders the status.

These errors are raised in a child process and re-raised in the service
(:mod:`coderunner.document_jobs`), so they must survive pickling even though
their constructors take other arguments than the message: ``__reduce__``
rebuilds them from their message and details.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from common.errors import DataflowError, InvalidArgument, InvalidDefinition, PayloadTooLarge, UnsupportedMediaType

_REASON_CHARS = 300  # a parser's own message is kept, but not a page of it


class DocumentError(InvalidDefinition):
    """A document that cannot be processed as sent."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_restore, (type(self), self.message, self.details))


def _restore(cls: type[DocumentError], message: str, details: Any) -> DocumentError:
    error = cls.__new__(cls)
    DataflowError.__init__(error, message, details=details)
    return error


class EmptyDocument(InvalidArgument, DocumentError):
    def __init__(self, filename: str) -> None:
        super().__init__(f"The file {filename!r} is empty; send the document's bytes", details={"filename": filename})


class UnsupportedDocumentType(UnsupportedMediaType, DocumentError):
    """Neither the content nor the file name says what the document is, or this endpoint does not take it."""

    def __init__(self, filename: str, detected: str | None, accepted: list[str], hint: str = "") -> None:
        what = f"a {detected} file" if detected else "of a type the document tools do not read"
        message = f"The file {filename!r} is {what}; this endpoint accepts {', '.join(accepted)}"
        super().__init__(
            f"{message}. {hint}".strip() if hint else message,
            details={"filename": filename, "detected": detected, "accepted": accepted},
        )


class CorruptDocument(DocumentError):
    """The file looks like (or is named as) a known type but its content cannot be parsed."""

    def __init__(self, filename: str, kind: str, reason: str) -> None:
        reason = reason[:_REASON_CHARS]
        super().__init__(
            f"The file {filename!r} could not be read as {kind}: {reason}. "
            "Check that it is complete, not password-protected, and saved in that format",
            details={"filename": filename, "type": kind, "reason": reason},
        )


class DocumentTooLarge(PayloadTooLarge, DocumentError):
    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(
            f"The file {filename!r} is too large to process: {reason}", details={"filename": filename, "reason": reason}
        )


class DocumentTimeout(DocumentError):
    """Processing ran past its time limit and was stopped."""

    code = "processing_timeout"

    def __init__(self, filename: str, timeout_s: float) -> None:
        super().__init__(
            f"Processing {filename!r} took longer than {timeout_s:g} s and was stopped; "
            "send a smaller document or fewer pages",
            details={"filename": filename, "timeout_s": timeout_s},
        )


class UnknownLanguage(InvalidArgument, DocumentError):
    """An OCR language tesseract has no trained data for (a 400: it is a bad parameter, not a bad file)."""

    def __init__(self, lang: str, available: list[str]) -> None:
        super().__init__(
            f"The OCR language {lang!r} is not installed; available: {', '.join(available)} "
            "(combine several with '+', e.g. 'eng+deu')",
            details={"field": "lang", "available": available},
        )


@contextlib.contextmanager
def parsing(filename: str, kind: str, where: str = "") -> Iterator[None]:
    """Turn whatever a third-party parser raises on untrusted bytes into a :class:`DocumentError`.

    Parsers of docx, xlsx and pdf raise anything from ``KeyError`` to their
    own exception types on malformed input; for the client they all mean
    "this file is broken". Only the parsing calls are wrapped, so a bug in
    our own code still surfaces as one. Running out of memory is reported as
    the document being too large.
    """
    try:
        yield
    except DocumentError:
        raise
    except MemoryError as exc:
        raise DocumentTooLarge(filename, "it needs more memory than one document may use") from exc
    except Exception as exc:  # any parser failure on untrusted bytes means a corrupt file
        reason = f"{where}{type(exc).__name__}: {exc}" if str(exc) else f"{where}{type(exc).__name__}"
        raise CorruptDocument(filename, kind, reason) from exc
