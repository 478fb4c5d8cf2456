"""How much of a document the document tools read, and how long they may take.

Two kinds of limit, on purpose:

- Limits on structure (pages, sheets, rows, columns, cells, body blocks)
  *truncate*: what was read is returned with ``truncated: true``, because the
  first hundred thousand rows of a huge workbook are usually still what the
  caller wanted.
- Limits on what must be decompressed or decoded before anything can be read
  (the members of a .docx/.xlsx archive, the pixels of an image) *refuse* the
  document with :class:`~coderunner.documents.errors.DocumentTooLarge` (413),
  because by the time they were passed the memory they guard would be spent.

Streams inside a PDF cannot be measured before they are inflated; against
those, the service runs every document job in a child process under a memory
cap and a wall-clock limit (the ``JOB_*`` values below, used by
:mod:`coderunner.document_jobs`).
"""

from __future__ import annotations

MAX_ARCHIVE_MEMBERS = 10_000  # entries in a .docx or .xlsx zip archive
MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024  # declared total size of a .docx or .xlsx archive's members

MAX_DOCX_BLOCKS = 100_000  # paragraphs and tables read from a .docx body
MAX_SHEETS = 100  # worksheets read from a workbook
MAX_SHEET_ROWS = 100_000  # rows read from one worksheet
MAX_SHEET_COLUMNS = 1_000  # columns read from one worksheet (Excel allows 16,384)
MAX_CELLS = 2_000_000  # cells read from a whole workbook or from all tables of a .docx
MAX_PDF_PAGES = 500  # pages whose text and tables are extracted

MAX_OCR_PAGES = 30  # image frames or PDF pages recognised per request
OCR_DPI = 300  # PDF pages are rendered at this resolution before recognition
OCR_PAGE_TIMEOUT_S = 60  # tesseract's time for one page

MAX_RENDER_BLOCKS = 10_000  # blocks in one report spec
MAX_RENDER_CELLS = 200_000  # table cells in one report spec, across its tables
MAX_TEXT_CHARS = 100_000  # characters in one heading or paragraph
MAX_CELL_CHARS = 32_767  # characters in one table cell (Excel's own limit)

JOB_MEMORY_BYTES = 2 * 1024 * 1024 * 1024  # address space of one document job's process
JOB_QUEUE_TIMEOUT_S = 30.0  # wait for a free job slot before answering 429
EXTRACT_TIMEOUT_S = 60.0  # wall clock of one extraction
OCR_TIMEOUT_S = 180.0  # wall clock of one OCR request, all pages
RENDER_TIMEOUT_S = 60.0  # wall clock of one report rendering
