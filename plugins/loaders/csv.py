"""CSV and TSV files: one element per record, its text naming each value's column
("name: Alice; city: Paris, France"), so that a row found on its own still makes sense."""

import csv
import io
import itertools
from collections import Counter

from plugins.base import Element, Loader, LoaderInput, PluginSettings
from plugins.loaders._tables import record_elements
from plugins.loaders.text import decode, looks_binary

_DELIMITERS = (",", "\t", ";", "|")
# Enough of the file to tell its delimiter, little enough to parse quickly.
_SAMPLE_CHARS = 64 * 1024
_SAMPLE_ROWS = 200


def _delimiter(text: str, filename: str) -> str:
    """The delimiter that splits the start of ``text`` into the same number of cells (more
    than one) on most rows; more cells break a tie. csv.Sniffer is not used: it guesses
    wrong on quoted cells that hold the delimiter, the case that matters most."""
    candidates = _DELIMITERS
    if filename.lower().endswith(".tsv"):
        candidates = ("\t", *(d for d in _DELIMITERS if d != "\t"))
    sample = text[:_SAMPLE_CHARS]
    if len(text) > _SAMPLE_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]  # no half row at the end
    best, best_score = candidates[0], (0.0, 0)
    for delimiter in candidates:
        try:
            reader = csv.reader(io.StringIO(sample), delimiter=delimiter)
            rows = itertools.islice(reader, _SAMPLE_ROWS)
            widths = Counter(len(row) for row in rows if any(row))
        except csv.Error:
            continue
        if not widths:
            continue
        width, rows = widths.most_common(1)[0]
        score = (rows / widths.total(), width)
        if width > 1 and score > best_score:
            best, best_score = delimiter, score
    return best


class CsvLoader(Loader):
    """CSV and TSV files, one table element per record with the header kept in its text."""

    display_name = "CSV / TSV"
    description = (
        "Reads CSV and TSV files (comma, tab, semicolon or pipe separated): one element per "
        "row, each value named by its column from the header row."
    )
    file_extensions = (".csv", ".tsv")
    media_types = ("text/csv", "text/tab-separated-values", "application/csv")
    enabled_by_default = True

    def load(self, source: LoaderInput, settings: PluginSettings) -> list[Element]:
        """One "table" element per non-blank data row: text "column: value; ..." (empty
        values left out), ``metadata["row"]`` its 1-based data row number (blank rows not
        counted) and ``metadata["header"]`` the column names from the first row. A file with
        only a header row gives one element with ``row`` 0.

        Raises ``ValueError`` for binary data, bytes in no supported encoding, or broken
        quoting.
        """
        if looks_binary(source.data):
            raise ValueError(f"{source.filename} looks binary, not like a CSV file")
        text = decode(source.data).lstrip("\ufeff")
        reader = csv.reader(io.StringIO(text), delimiter=_delimiter(text, source.filename))
        try:
            return record_elements(reader)
        except csv.Error as error:
            raise ValueError(
                f"{source.filename} is not valid CSV near line {reader.line_num}: {error}"
            ) from error
