"""Optical character recognition of images and scanned PDFs with tesseract.

PNG, JPEG and TIFF images (every frame of a multi-page TIFF) are recognised
as they are; PDF pages are first rendered with pypdfium2 at ``OCR_DPI``
(300), or at a lower resolution for pages so large that 300 dpi would pass
Pillow's pixel limit. Each page goes through tesseract once, with
``image_to_data``, which gives every word with its confidence (0-100) and
bounding box in pixels of the page image; the page text is rebuilt from
those words (a line per line, a blank line between blocks), so no second
tesseract pass is needed for plain text.

Safety: Pillow's decompression-bomb protection stays on and is made strict
(an image past ``Image.MAX_IMAGE_PIXELS`` is refused with
:class:`DocumentTooLarge`, not merely warned about); tesseract gets a time
limit per page; at most ``MAX_OCR_PAGES`` pages are recognised
(``truncated`` says whether there were more). ``lang`` is checked against
the languages tesseract has installed (one or several joined by ``+``).

``warnings.catch_warnings`` changes process-wide state, so these functions
are meant to run one at a time per process, as the service runs them.
"""

from __future__ import annotations

import contextlib
import functools
import io
import math
import re
import warnings
from collections.abc import Iterator
from typing import Any

import pypdfium2
import pytesseract
from PIL import Image

from coderunner.documents import limits
from coderunner.documents.detect import RECOGNISABLE, DocumentKind, detect_kind
from coderunner.documents.errors import (
    CorruptDocument,
    DocumentTimeout,
    DocumentTooLarge,
    UnknownLanguage,
    parsing,
)
from common.errors import DependencyUnavailable

_LANG = re.compile(r"^[A-Za-z0-9_]+(?:\+[A-Za-z0-9_]+)*$")
_NOT_RECOGNITION_LANGUAGES = frozenset({"osd"})  # orientation and script detection only


def ocr_image(content: bytes, *, lang: str = "eng", filename: str = "upload") -> dict[str, Any]:
    """The text of an image or scanned PDF, per page and whole, with every word's confidence and box."""
    check_language(lang)
    kind = detect_kind(filename, content, RECOGNISABLE)
    page_images, page_count = _pdf_pages(filename, content) if kind is DocumentKind.PDF else _frames(filename, content)
    pages: list[dict[str, Any]] = []
    words: list[dict[str, Any]] = []
    for number, image in enumerate(page_images, start=1):
        page_words, text = _recognise(filename, image, lang, number)
        confidences = [word["confidence"] for word in page_words]
        pages.append(
            {
                "number": number,
                "width": image.width,
                "height": image.height,
                "text": text,
                "confidence": round(sum(confidences) / len(confidences), 2) if confidences else None,
            }
        )
        words.extend(page_words)
    return {
        "type": str(kind),
        "filename": filename,
        "lang": lang,
        "page_count": page_count,
        "pages": pages,
        "text": "\n\n".join(page["text"] for page in pages if page["text"]),
        "words": words,
        "truncated": page_count > len(pages),
    }


@functools.cache
def available_languages() -> tuple[str, ...]:
    """The recognition languages tesseract has trained data for (asked once per process)."""
    try:
        languages = pytesseract.get_languages(config="")
    except pytesseract.TesseractNotFoundError as exc:
        raise DependencyUnavailable("tesseract is not installed on this coderunner host") from exc
    return tuple(sorted(set(languages) - _NOT_RECOGNITION_LANGUAGES))


def check_language(lang: str) -> None:
    available = available_languages()
    if not _LANG.match(lang) or any(part not in available for part in lang.split("+")):
        raise UnknownLanguage(lang, list(available))


# -- pages --------------------------------------------------------------------------


def _frames(filename: str, content: bytes) -> tuple[Iterator[Image.Image], int]:
    with parsing(filename, "an image"), _strict_pixel_limit(filename):
        image = Image.open(io.BytesIO(content))
        frame_count = getattr(image, "n_frames", 1)

    def frames() -> Iterator[Image.Image]:
        with parsing(filename, "an image"):
            for index in range(min(frame_count, limits.MAX_OCR_PAGES)):
                image.seek(index)
                _check_pixels(filename, image.width, image.height)
                yield _for_recognition(image)

    return frames(), frame_count


def _pdf_pages(filename: str, content: bytes) -> tuple[Iterator[Image.Image], int]:
    with parsing(filename, "a PDF"):
        pdf = pypdfium2.PdfDocument(content)
        page_count = len(pdf)

    def pages() -> Iterator[Image.Image]:
        try:
            for index in range(min(page_count, limits.MAX_OCR_PAGES)):
                with parsing(filename, "a PDF", f"page {index + 1}: "):
                    page = pdf[index]
                    try:
                        width, height = page.get_size()
                        bitmap = page.render(scale=_render_scale(width, height))
                        image = bitmap.to_pil()
                    finally:
                        page.close()
                yield _for_recognition(image)
        finally:
            pdf.close()

    return pages(), page_count


def _render_scale(width_pt: float, height_pt: float) -> float:
    """``OCR_DPI`` in pdfium's scale (1 = 72 dpi), lowered so the bitmap stays within Pillow's pixel limit."""
    scale = limits.OCR_DPI / 72
    pixels = width_pt * scale * height_pt * scale
    limit = Image.MAX_IMAGE_PIXELS or math.inf
    if pixels > limit:
        scale *= math.sqrt(limit / pixels) * 0.99
    return scale


def _for_recognition(image: Image.Image) -> Image.Image:
    """A copy in RGB or greyscale, on white: transparent areas would otherwise turn black for tesseract."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, "white")
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        return _stretch_to_8_bits(image)
    return image.convert("L" if image.mode in ("1", "L") else "RGB")


def _stretch_to_8_bits(image: Image.Image) -> Image.Image:
    """A 16-bit or float greyscale scan as 8 bits over its own range (a plain convert clips it to white)."""
    wide = image.convert("F")
    low, high = wide.getextrema()
    scale = 255 / (high - low) if high > low else 1.0
    return wide.point(lambda value: (value - low) * scale).convert("L")


@contextlib.contextmanager
def _strict_pixel_limit(filename: str) -> Iterator[None]:
    """Within the block, Pillow's decompression-bomb warning is an error too; both become DocumentTooLarge."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            yield
        except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise DocumentTooLarge(filename, str(exc)) from exc


def _check_pixels(filename: str, width: int, height: int) -> None:
    if Image.MAX_IMAGE_PIXELS and width * height > Image.MAX_IMAGE_PIXELS:
        raise DocumentTooLarge(
            filename, f"a page of {width}x{height} pixels is more than {Image.MAX_IMAGE_PIXELS} pixels"
        )


# -- recognition --------------------------------------------------------------------


def _recognise(filename: str, image: Image.Image, lang: str, page: int) -> tuple[list[dict[str, Any]], str]:
    try:
        data = pytesseract.image_to_data(
            image, lang=lang, output_type=pytesseract.Output.DICT, timeout=limits.OCR_PAGE_TIMEOUT_S
        )
    except pytesseract.TesseractNotFoundError as exc:
        raise DependencyUnavailable("tesseract is not installed on this coderunner host") from exc
    except pytesseract.TesseractError as exc:
        raise CorruptDocument(filename, "an image tesseract can read", f"page {page}: {exc.message}") from exc
    except RuntimeError as exc:  # pytesseract's way of saying its timeout expired
        if "timeout" not in str(exc).lower():
            raise
        raise DocumentTimeout(filename, limits.OCR_PAGE_TIMEOUT_S) from exc
    return _words_and_text(data, page)


def _words_and_text(data: dict[str, list[Any]], page: int) -> tuple[list[dict[str, Any]], str]:
    words: list[dict[str, Any]] = []
    blocks: dict[int, dict[tuple[int, int], list[str]]] = {}
    for index, text in enumerate(data["text"]):
        text = str(text).strip()
        if data["level"][index] != 5 or not text:
            continue
        words.append(
            {
                "text": text,
                "confidence": round(max(float(data["conf"][index]), 0.0), 2),
                "page": page,
                "box": {key: int(data[key][index]) for key in ("left", "top", "width", "height")},
            }
        )
        line = (data["par_num"][index], data["line_num"][index])
        blocks.setdefault(data["block_num"][index], {}).setdefault(line, []).append(text)
    text = "\n\n".join("\n".join(" ".join(line) for line in lines.values()) for lines in blocks.values())
    return words, text
