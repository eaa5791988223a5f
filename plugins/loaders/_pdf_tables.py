"""Tables in PDF pages, found by pdfplumber from their ruling lines.

Only the "lines" strategy is used: a table is a grid of drawn lines (or cell rectangles).
pdfplumber's "text" strategy, which guesses columns from aligned words, finds a "table" on
every ordinary page of text (all the realdocs PDFs), so it is not used: a table without
ruling lines stays in the page's text, read row by row.

What pdfplumber finds is kept as a table only when it looks like one (``_is_table``): at
least two rows with text in at least two cells each (a ruled box around a paragraph or a code
listing is one column; a frame around the page is one cell), and no text right beside it on
both sides (a grid of a few inner rules of a larger table without them, whose rows run on
past the grid on the left and the right). A row whose filled cells all hold the same number
of lines (more than one) is split into that many rows: tables ruled only above and below
their body (the "booktabs" style of papers) come out of pdfplumber as one tall row.
"""

from __future__ import annotations

import io
import logging
import statistics
from dataclasses import dataclass
from typing import Any

from plugins.base import Element
from plugins.loaders._pdf_text import clean, join_wrapped
from plugins.loaders._tables import record_elements

logger = logging.getLogger(__name__)

#: Text closer than this many of the table's font sizes to both its left and right edges,
#: on the table's lines, means the grid is part of a wider table.
_BESIDE_SIZES = 2.0
#: Pages drawing more path segments than this are drawings (maps, charts), not tables:
#: pdfplumber's edge merging would take long for nothing.
MAX_PATHS = 10_000


@dataclass
class Table:
    """A table on a page: its cells' text by row and its bounding box in PDF user space
    (x0, y0, x1, y1, origin at the bottom left, as text positions are)."""

    rows: list[list[str]]
    bbox: tuple[float, float, float, float]

    def elements(self, page: int, number: int) -> list[Element]:
        """The table as the CSV loader gives a file's rows: one "table" element per data row,
        "column: value; ..." under the first row's names, with ``metadata["table"]``
        (``number``, 1-based on the page), ``["row"]`` and ``["header"]``."""
        elements = record_elements(self.rows, metadata={"table": number})
        for element in elements:
            element.page = page
        return elements


def _cell(text: str | None) -> str:
    """A cell's text on one line, cleaned as page text is."""
    return join_wrapped(clean(text or "").split("\n"))


def _split_stacked(row: list[str | None]) -> list[list[str | None]]:
    """``row`` as several rows when every filled cell holds the same number of lines (more
    than one) and at least two are filled: rows stacked in one cell, not wrapped text."""
    cells = [clean(cell or "").split("\n") if cell else [] for cell in row]
    counts = {len(lines) for lines in cells if lines}
    if len(counts) != 1 or sum(1 for lines in cells if lines) < 2:
        return [row]
    (count,) = counts
    if count < 2:
        return [row]
    return [[lines[index] if lines else None for lines in cells] for index in range(count)]


def _is_table(rows: list[list[str]], beside_left: bool, beside_right: bool) -> bool:
    """Whether what pdfplumber found is a table (see the module's docstring)."""
    filled_rows = sum(1 for row in rows if sum(1 for cell in row if cell) >= 2)
    return filled_rows >= 2 and not (beside_left and beside_right)


def _text_beside(page: Any, bbox: tuple[float, float, float, float]) -> tuple[bool, bool]:
    """Whether the page has text on the table's lines just left and just right of it."""
    x0, top, x1, bottom = bbox
    inside = [c for c in page.chars if x0 <= c["x0"] and c["x1"] <= x1 and top <= c["top"]]
    inside = [c for c in inside if c["bottom"] <= bottom]
    size = statistics.median(c["size"] for c in inside) if inside else 10.0
    reach = _BESIDE_SIZES * size
    left = right = False
    for char in page.chars:
        middle = (char["top"] + char["bottom"]) / 2
        if not top <= middle <= bottom or not char["text"].strip():
            continue
        left = left or x0 - reach <= char["x1"] <= x0 + 1
        right = right or x1 - 1 <= char["x0"] <= x1 + reach
    return left, right


class PageTables:
    """Finds the tables of one PDF's pages, opening it with pdfplumber at the first page
    asked for. Use as a context manager; any failure of pdfplumber (a file it cannot
    parse) costs the tables, never the text."""

    def __init__(self, data: bytes, filename: str) -> None:
        self._data = data
        self._filename = filename
        self._pdf: Any = None
        self._broken = False

    def __enter__(self) -> PageTables:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._pdf is not None:
            self._pdf.close()

    def _document(self) -> Any:
        if self._pdf is None and not self._broken:
            # Imported here: only PDFs with ruled pages need it, and it is slow to import.
            import pdfplumber

            try:
                self._pdf = pdfplumber.open(io.BytesIO(self._data))
            except Exception as error:
                logger.warning("%s: no tables (pdfplumber: %s)", self._filename, error)
                self._broken = True
        return self._pdf

    def on_page(self, number: int) -> list[Table]:
        """The tables on page ``number`` (1-based), top to bottom."""
        pdf = self._document()
        if pdf is None:
            return []
        try:
            page = pdf.pages[number - 1]
        except Exception as error:
            logger.warning("%s: no tables on page %d: %s", self._filename, number, error)
            return []
        try:
            return self._tables(page)
        except Exception as error:
            # A page pdfminer cannot lay out still has its text from pypdf.
            logger.warning("%s: no tables on page %d: %s", self._filename, number, error)
            return []
        finally:
            page.close()  # frees its parsed objects: pages are read once

    def _tables(self, page: Any) -> list[Table]:
        tables = []
        height = page.mediabox[3] - page.mediabox[1]
        for found in sorted(page.find_tables(), key=lambda t: (t.bbox[1], t.bbox[0])):
            rows = [
                [_cell(cell) for cell in row]
                for raw in found.extract()
                for row in _split_stacked(raw)
            ]
            if not _is_table(rows, *_text_beside(page, found.bbox)):
                continue
            x0, top, x1, bottom = found.bbox
            # pdfplumber measures from the top of the media box; text positions from the
            # bottom (the loader removes table text only on pages where the two agree).
            tables.append(Table(rows, (x0, height - bottom, x1, height - top)))
        return tables
