"""Helpers shared by the loaders of tabular files (CSV, XLSX): one element per record, its text
keeping the column names so that a row read on its own still says what each value is."""

from collections.abc import Iterable, Sequence
from typing import Any

from plugins.base import Element


def header_names(cells: Sequence[str]) -> list[str]:
    """Column names of a header row; a blank name becomes "column N" (1-based)."""
    return [cell.strip() or f"column {number}" for number, cell in enumerate(cells, start=1)]


def record_text(header: Sequence[str], values: Sequence[str]) -> str:
    """ "name: Alice; city: Paris, France": each non-empty value after its column's name.

    Values past the header's width are named "column N", so nothing is dropped.
    """
    pairs = []
    for number, value in enumerate(values, start=1):
        value = value.strip()
        if value:
            name = header[number - 1] if number <= len(header) else f"column {number}"
            pairs.append(f"{name}: {value}")
    return "; ".join(pairs)


def record_elements(
    rows: Iterable[Sequence[str]],
    *,
    section: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> list[Element]:
    """Table elements for ``rows`` (cells as text): the first non-blank row is the header, each
    later non-blank row one element with ``metadata["row"]`` (1-based data row number, blank
    rows not counted) and ``metadata["header"]``. A table with only a header gives one element
    holding the header, with ``row`` 0, so its words are still found."""
    header: list[str] | None = None
    elements: list[Element] = []
    for cells in rows:
        if not any(cell.strip() for cell in cells):
            continue  # blank rows separate nothing in a record list
        if header is None:
            header = header_names(_trim(cells))
            continue
        text = record_text(header, cells)
        elements.append(
            Element(
                type="table",
                text=text,
                section=section,
                metadata={**(metadata or {}), "row": len(elements) + 1, "header": header},
            )
        )
    if header is not None and not elements:
        elements.append(
            Element(
                type="table",
                text="; ".join(header),
                section=section,
                metadata={**(metadata or {}), "row": 0, "header": header},
            )
        )
    return elements


def _trim(cells: Sequence[str]) -> list[str]:
    """``cells`` without trailing blank ones (spreadsheets pad rows to the widest one)."""
    cells = list(cells)
    while cells and not cells[-1].strip():
        cells.pop()
    return cells
