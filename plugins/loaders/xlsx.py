"""Excel workbooks (.xlsx, .xlsm): every sheet read like a CSV file, one element per row with
its values named by the header row's columns, via openpyxl in read-only mode (rows are
streamed, so large sheets do not fill memory)."""

import datetime as dt
import io
from collections.abc import Iterator
from typing import Any

import openpyxl

from plugins.base import Element, Loader, LoaderInput, PluginSettings
from plugins.loaders._office import check_ooxml
from plugins.loaders._tables import record_elements


def _cell_text(value: Any) -> str:
    """A cell's value as a person reads it in Excel, more or less: whole numbers without
    ".0", dates without a midnight time, booleans in capitals."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return f"{value:.15g}"  # Excel's precision; hides 0.30000000000000004
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time | dt.timedelta):
        return str(value)
    return str(value).strip()


def _rows(sheet: Any) -> Iterator[list[str]]:
    for row in sheet.iter_rows(values_only=True):
        yield [_cell_text(value) for value in row]


class XlsxLoader(Loader):
    """Excel workbooks, one table element per row of every sheet, header kept in its text."""

    display_name = "Excel (.xlsx)"
    description = (
        "Reads Excel .xlsx and .xlsm workbooks: every sheet, one element per row, each value "
        "named by its column from the sheet's first row. Cached formula results are read; "
        "password-protected and legacy .xls files are refused."
    )
    file_extensions = (".xlsx", ".xlsm")
    media_types = (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-excel.sheet.macroEnabled.12",
    )
    enabled_by_default = True

    def load(self, source: LoaderInput, settings: PluginSettings) -> list[Element]:
        """One "table" element per non-blank data row of each sheet, sheet by sheet: text
        "column: value; ...", ``section`` and ``metadata["sheet"]`` the sheet's name,
        ``metadata["row"]`` the 1-based data row number and ``metadata["header"]`` the column
        names from the sheet's first non-blank row. Formulas give the value Excel last
        computed (none in files written by programs that never calculated them).

        Raises ``ValueError`` for encrypted (password-protected), legacy .xls, corrupt or
        non-Excel files.
        """
        check_ooxml(source.data, source.filename, kind=".xlsx", legacy=".xls", application="Excel")
        try:
            workbook = openpyxl.load_workbook(
                io.BytesIO(source.data), read_only=True, data_only=True
            )
        except Exception as error:
            raise ValueError(
                f"{source.filename} is not a readable .xlsx (Excel) file: {error}"
            ) from error
        elements: list[Element] = []
        try:
            for sheet in workbook.worksheets:
                # Some writers store a wrong sheet size; read-only mode would trust it and
                # cut rows off. Without one, it reads every row there is.
                sheet.reset_dimensions()
                elements += record_elements(
                    _rows(sheet), section=sheet.title, metadata={"sheet": sheet.title}
                )
        except Exception as error:
            raise ValueError(
                f"{source.filename} is not a readable .xlsx (Excel) file: {error}"
            ) from error
        finally:
            workbook.close()  # read-only workbooks keep the zip open until closed
        return elements
