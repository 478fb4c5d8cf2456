"""Reading an Excel workbook (.xlsx) with openpyxl.

Each worksheet is read over its *used range*: the rectangle from the first to
the last row and column holding a value, a formula or a merged value
(``range``, e.g. ``"B2:D40"``). Cells that are only formatted do not count.

- **Values** are the cached results Excel stored when it last saved the file
  (the workbook is loaded with ``data_only=True``). A formula whose result was
  never computed (a file written by a library, not by Excel) reads as ``null``.
- **Formulas**: when the archive holds any formula (a cheap scan of the sheet
  XML for ``<f>``), the workbook is loaded a second time without
  ``data_only`` and ``formulas`` maps each cell reference to its formula text
  (``{"C2": "=A2+B2"}``). Workbooks without formulas are loaded once.
- **Merged cells**: ``merged`` lists every merged range with its value, and
  that value is also filled into every cell the range covers, so records
  built from a merged header or a merged label column are complete.
- **Header detection**: the first non-empty row is the header when at least
  80% of its non-empty cells are text, at least one non-empty row follows, and
  it fills more than half as many cells as the widest of the next 20 rows (a
  lone title above a table is not a header). Then ``header`` holds the column
  names (an empty header cell is named by its column letter, a repeated name
  gets ``_2``, ``_3``...), ``header_row`` its row number, and ``rows`` one
  record per following non-empty row. Otherwise ``header`` is ``null`` and
  ``rows`` are lists of values, empty rows included.
- **Types**: numbers, text and booleans as such; dates and datetimes as ISO
  8601 strings (a midnight datetime in a date-only number format is a date);
  durations as seconds.

Limits (:mod:`coderunner.documents.limits`): at most ``MAX_SHEETS`` sheets,
``MAX_SHEET_ROWS`` rows and ``MAX_SHEET_COLUMNS`` columns per sheet and
``MAX_CELLS`` cells in all; past them reading stops with ``truncated: true``
on the sheet and on the workbook. Warnings openpyxl raises about parts it
cannot read (data validation extensions, ...) are returned in ``warnings``.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import warnings
import zipfile
from dataclasses import dataclass
from typing import Any

import openpyxl
from openpyxl.utils import get_column_letter
from openpyxl.workbook.workbook import Workbook
from openpyxl.worksheet.worksheet import Worksheet

from coderunner.documents import limits
from coderunner.documents.errors import parsing
from coderunner.documents.values import json_value, text_or_none

KIND = "an Excel workbook (.xlsx)"
HEADER_SHARE_OF_TEXT = 0.8
HEADER_SAMPLE_ROWS = 20

_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[\s>/]")
_TIME_TOKENS = re.compile(r"h|s|am/pm", re.IGNORECASE)  # "m" alone may be a month
_PROPERTIES = {
    "title": "title",
    "author": "creator",
    "subject": "subject",
    "keywords": "keywords",
    "category": "category",
    "comments": "description",
    "content_status": "contentStatus",
    "identifier": "identifier",
    "language": "language",
    "last_modified_by": "lastModifiedBy",
    "revision": "revision",
    "version": "version",
    "created": "created",
    "modified": "modified",
    "last_printed": "lastPrinted",
}

Grid = list[list[Any]]


@dataclass
class _Budget:
    cells: int


def read_xlsx(filename: str, content: bytes) -> dict[str, Any]:
    # openpyxl reports what it skips as UserWarnings; they go back to the caller, not to stderr.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        with parsing(filename, KIND):
            values_book = openpyxl.load_workbook(io.BytesIO(content), data_only=True)
            formulas_book = _formulas_book(content)
        sheets, truncated = _read_sheets(filename, values_book, formulas_book)
    messages = [str(warning.message) for warning in caught if issubclass(warning.category, UserWarning)]
    return {
        "type": "xlsx",
        "filename": filename,
        "properties": _properties(values_book),
        "sheet_count": len(values_book.worksheets),
        "sheets": sheets,
        "truncated": truncated,
        "warnings": list(dict.fromkeys(messages)),
    }


def _formulas_book(content: bytes) -> Workbook | None:
    if not _has_formulas(content):
        return None
    return openpyxl.load_workbook(io.BytesIO(content), data_only=False)


def _has_formulas(content: bytes) -> bool:
    """Whether any worksheet XML holds an ``<f>`` element; read in chunks, never whole."""
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        for name in archive.namelist():
            if not (name.startswith("xl/worksheets/") and name.endswith(".xml")):
                continue
            with archive.open(name) as member:
                tail = b""
                while chunk := member.read(1024 * 1024):
                    if _FORMULA_TAG.search(tail + chunk):
                        return True
                    tail = chunk[-16:]
    return False


def _properties(book: Workbook) -> dict[str, Any]:
    return {name: text_or_none(getattr(book.properties, attribute, None)) for name, attribute in _PROPERTIES.items()}


def _read_sheets(filename: str, values_book: Workbook, formulas_book: Workbook | None) -> tuple[list[Any], bool]:
    budget = _Budget(limits.MAX_CELLS)
    sheets = []
    for index, sheet in enumerate(values_book.worksheets):
        if index >= limits.MAX_SHEETS or budget.cells <= 0:
            return sheets, True
        formula_sheet = formulas_book[sheet.title] if formulas_book is not None else None
        with parsing(filename, KIND, f"sheet {sheet.title!r}: "):
            sheets.append(_read_sheet(sheet, formula_sheet, budget))
    return sheets, any(sheet["truncated"] for sheet in sheets)


def _read_sheet(sheet: Worksheet, formula_sheet: Worksheet | None, budget: _Budget) -> dict[str, Any]:
    # Worksheet._cells holds only the cells the file defines; walking it instead of
    # iter_rows() keeps a sparse sheet cheap (iter_rows creates every empty cell).
    cells: dict[tuple[int, int], Any] = sheet._cells
    formulas = {key: _formula_text(cell.value) for key, cell in _cells_of(formula_sheet) if cell.data_type == "f"}
    merged = [(cell_range, _top_left_value(cells, cell_range)) for cell_range in sheet.merged_cells.ranges]
    occupied = [key for key, cell in cells.items() if cell.value is not None] + list(formulas)
    for cell_range, value in merged:
        if value is not None:
            occupied += [(cell_range.min_row, cell_range.min_col), (cell_range.max_row, cell_range.max_col)]
    result: dict[str, Any] = {
        "name": sheet.title,
        "hidden": sheet.sheet_state != "visible",
        "range": None,
        "header_row": None,
        "header": None,
        "rows": [],
        "merged": [{"range": cell_range.coord, "value": json_value(value)} for cell_range, value in merged],
        "formulas": {},
        "truncated": False,
    }
    if not occupied:
        return result
    top, left = min(row for row, _ in occupied), min(column for _, column in occupied)
    bottom, right = max(row for row, _ in occupied), max(column for _, column in occupied)
    width = min(right - left + 1, limits.MAX_SHEET_COLUMNS)
    height = min(bottom - top + 1, limits.MAX_SHEET_ROWS, budget.cells // width)
    budget.cells -= height * width
    result["truncated"] = width < right - left + 1 or height < bottom - top + 1
    if height == 0:
        return result
    grid: Grid = [[None] * width for _ in range(height)]
    for (row, column), cell in cells.items():
        if cell.value is not None and 0 <= row - top < height and 0 <= column - left < width:
            grid[row - top][column - left] = _cell_value(cell)
    for cell_range, value in merged:
        for row in range(max(cell_range.min_row, top), min(cell_range.max_row, top + height - 1) + 1):
            for column in range(max(cell_range.min_col, left), min(cell_range.max_col, left + width - 1) + 1):
                grid[row - top][column - left] = value
    result["range"] = f"{get_column_letter(left)}{top}:{get_column_letter(left + width - 1)}{top + height - 1}"
    result["formulas"] = {
        f"{get_column_letter(column)}{row}": text
        for (row, column), text in sorted(formulas.items())
        if 0 <= row - top < height and 0 <= column - left < width
    }
    header_index = detect_header(grid)
    if header_index is None:
        result["rows"] = [[json_value(value) for value in row] for row in grid]
    else:
        names = column_names(grid[header_index], left)
        result["header_row"] = top + header_index
        result["header"] = names
        result["rows"] = [
            dict(zip(names, (json_value(value) for value in row), strict=True))
            for row in grid[header_index + 1 :]
            if any(value is not None for value in row)
        ]
    return result


def _cells_of(sheet: Worksheet | None) -> list[tuple[tuple[int, int], Any]]:
    return list(sheet._cells.items()) if sheet is not None else []


def _top_left_value(cells: dict[tuple[int, int], Any], cell_range: Any) -> Any:
    cell = cells.get((cell_range.min_row, cell_range.min_col))
    return _cell_value(cell) if cell is not None else None


def _formula_text(value: Any) -> str:
    text = getattr(value, "text", None)  # ArrayFormula keeps its formula in .text
    return str(text if text is not None else value)


def _cell_value(cell: Any) -> Any:
    value = cell.value
    if (
        isinstance(value, dt.datetime)
        and value.time() == dt.time(0)
        and not _TIME_TOKENS.search(str(cell.number_format or ""))
    ):
        return value.date()
    return value


def detect_header(grid: Grid) -> int | None:
    """The index of the header row in ``grid``, or ``None``; the rule is in the module docstring."""
    first = next((index for index, row in enumerate(grid) if any(value is not None for value in row)), None)
    if first is None:
        return None
    filled = [value for value in grid[first] if value is not None]
    texts = sum(isinstance(value, str) for value in filled)
    if texts == 0 or texts < HEADER_SHARE_OF_TEXT * len(filled):
        return None
    following = [row for row in grid[first + 1 : first + 1 + HEADER_SAMPLE_ROWS] if any(v is not None for v in row)]
    if not following:
        return None
    widest = max(sum(value is not None for value in row) for row in following)
    return first if 2 * len(filled) > widest else None


def column_names(header: list[Any], first_column: int) -> list[str]:
    """Unique, non-empty names for the header cells: column letters for blanks, ``_2`` suffixes for repeats."""
    names: list[str] = []
    used: set[str] = set()
    for offset, value in enumerate(header):
        base = str(json_value(value)).strip() if value is not None else ""
        base = base or get_column_letter(first_column + offset)
        name, count = base, 1
        while name in used:
            count += 1
            name = f"{base}_{count}"
        used.add(name)
        names.append(name)
    return names
