"""Rendering a report spec (:mod:`coderunner.documents.models`) to .xlsx, .docx or .pdf bytes."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pydantic import ValidationError

from coderunner.documents.models import ChartBlock, ReportFormat, ReportSpec
from coderunner.documents.writers.pdf import write_pdf
from coderunner.documents.writers.spreadsheet import write_xlsx
from coderunner.documents.writers.word import write_docx
from common.errors import InvalidArgument, InvalidDefinition

_WRITERS: dict[ReportFormat, Callable[[ReportSpec], bytes]] = {
    ReportFormat.XLSX: write_xlsx,
    ReportFormat.DOCX: write_docx,
    ReportFormat.PDF: write_pdf,
}


def render_report(spec: ReportSpec | Mapping[str, Any], fmt: str) -> bytes:
    """The file of ``spec`` in format ``fmt`` (``xlsx``, ``docx`` or ``pdf``).

    ``spec`` may be a validated :class:`ReportSpec` or plain data, which is
    validated here (:class:`InvalidDefinition` naming each bad field).
    """
    try:
        report_format = ReportFormat(fmt)
    except ValueError as exc:
        choices = ", ".join(item.value for item in ReportFormat)
        raise InvalidArgument(f"The report format {fmt!r} is not one of {choices}") from exc
    report = spec if isinstance(spec, ReportSpec) else _validate(spec)
    if report_format is ReportFormat.DOCX:
        charts = [index for index, block in enumerate(report.blocks) if isinstance(block, ChartBlock)]
        if charts:
            raise InvalidDefinition(
                f"A .docx report cannot hold charts (blocks {charts}); render it as xlsx or pdf, or drop the charts",
                details=[
                    {"field": f"blocks.{index}", "message": "charts are drawn in xlsx and pdf only"} for index in charts
                ],
            )
    return _WRITERS[report_format](report)


def _validate(data: Mapping[str, Any]) -> ReportSpec:
    try:
        return ReportSpec.model_validate(data)
    except ValidationError as exc:
        details = [
            {
                "field": ".".join(str(part) for part in error["loc"]) or "(spec)",
                "message": error["msg"],
                "type": error["type"],
            }
            for error in exc.errors(include_url=False, include_context=False)
        ]  # the shape the base handler gives request bodies, without importing the web layer here
        raise InvalidDefinition("The report spec is not valid", details=details) from exc
