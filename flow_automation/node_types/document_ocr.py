"""``document.ocr``: recognise the text of a scan (PNG, JPEG, TIFF or PDF) through coderunner.

Outputs the recognised ``text``, the ``words`` as a table (text, confidence
0-100, page and pixel box: filter low-confidence words downstream), and the
whole ``result``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
from pydantic import Field

from flow_automation.node_types._base import NodeConfig, NodeContext, NodeType, Port, PortKind
from flow_automation.node_types._coderunner import post
from flow_automation.node_types._files import file_input, upload

#: coderunner's own limit on an OCR job (coderunner/documents/limits.py).
OCR_TIMEOUT_S = 180.0


class DocumentOcrConfig(NodeConfig):
    lang: str = Field(
        "eng",
        pattern=r"^[A-Za-z_]{3,}(\+[A-Za-z_]{3,})*$",
        title="Languages",
        description="tesseract language(s), e.g. 'eng' or 'eng+deu'",
    )
    filename: str = Field("scan", min_length=1, max_length=255, title="File name", description="used in messages")


def run(context: NodeContext[DocumentOcrConfig], inputs: Mapping[str, Any]) -> dict[str, Any]:
    content, filename = file_input(inputs)
    body = {**upload(content, filename or context.config.filename), "lang": context.config.lang}
    result = post(context, "/api/v1/documents/ocr", body, work_timeout_s=OCR_TIMEOUT_S).json()
    return {"text": result.get("text", ""), "words": words_table(result.get("words", [])), "result": result}


def words_table(words: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per word: text, confidence, page, left, top, width, height."""
    rows = [
        {
            "text": word.get("text"),
            "confidence": word.get("confidence"),
            "page": word.get("page"),
            **{side: (word.get("box") or {}).get(side) for side in ("left", "top", "width", "height")},
        }
        for word in words
    ]
    columns = ["text", "confidence", "page", "left", "top", "width", "height"]
    return pd.DataFrame(rows, columns=columns)


NODE_TYPE = NodeType(
    id="document.ocr",
    title="OCR",
    category="Documents",
    description="Recognise the text of a scanned image or PDF (tesseract), with per-word confidences.",
    inputs=(Port(name="file", kind=PortKind.BYTES, description="the image or PDF's bytes"),),
    outputs=(
        Port(name="text", kind=PortKind.TEXT, description="the recognised text"),
        Port(name="words", kind=PortKind.TABLE, description="each word with its confidence, page and box"),
        Port(name="result", kind=PortKind.JSON, description="coderunner's whole answer, with per-page figures"),
    ),
    config_model=DocumentOcrConfig,
    run=run,
)
