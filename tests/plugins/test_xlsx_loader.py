"""The Excel loader: every sheet row by row with its header; protected, legacy and wrong files
refused with a reason. The workbooks are made with openpyxl here."""

import datetime as dt
import io
import zipfile
from importlib.metadata import entry_points

import docx
import openpyxl
import pytest

from plugins.base import LoaderInput, PluginSettings
from plugins.loaders._office import CFB_MAGIC
from plugins.loaders.xlsx import XlsxLoader


def load(data: bytes, filename: str = "f.xlsx") -> list:
    return XlsxLoader().load(LoaderInput(filename=filename, data=data), PluginSettings())


def save(workbook) -> bytes:
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def workbook() -> bytes:
    book = openpyxl.Workbook()
    people = book.active
    people.title = "People"
    people.append(["name", "city", "joined", "score", "active"])
    people.append(["Alice", "Paris, France", dt.datetime(2024, 3, 1), 3.0, True])
    people.append([])  # a blank row
    people.append(["张三", "北京", dt.datetime(2024, 3, 1, 9, 30), 0.1 + 0.2, False])
    notes = book.create_sheet("备注")
    notes.append([None, None])  # leading blank row: the header is the first non-blank one
    notes.append(["题目", "说明"])
    notes.append(["效果如何优化", "将该项目的README.md和该项目结合后"])
    book.create_sheet("Empty")
    return save(book)


def test_every_sheet_row_by_row_with_header_sheet_and_row_number():
    elements = load(workbook())
    assert [(e.type, e.section, e.text) for e in elements] == [
        (
            "table",
            "People",
            "name: Alice; city: Paris, France; joined: 2024-03-01; score: 3; active: TRUE",
        ),
        (
            "table",
            "People",
            "name: 张三; city: 北京; joined: 2024-03-01 09:30:00; score: 0.3; active: FALSE",
        ),
        ("table", "备注", "题目: 效果如何优化; 说明: 将该项目的README.md和该项目结合后"),
    ]
    assert [e.metadata for e in elements] == [
        {"sheet": "People", "row": 1, "header": ["name", "city", "joined", "score", "active"]},
        {"sheet": "People", "row": 2, "header": ["name", "city", "joined", "score", "active"]},
        {"sheet": "备注", "row": 1, "header": ["题目", "说明"]},
    ]


def test_cached_formula_results_are_read_and_uncached_ones_are_left_out():
    book = openpyxl.Workbook()
    book.active.append(["a", "b", "sum"])
    book.active.append([1, 2, "=A2+B2"])  # openpyxl never calculates: no cached value
    assert [e.text for e in load(save(book))] == ["a: 1; b: 2"]


def test_a_wrong_stored_sheet_size_does_not_cut_rows_off():
    book = openpyxl.Workbook()
    for n in range(1, 6):
        book.active.append([f"h{n}" if n == 1 else f"v{n}"])
    data = save(book)
    # Some writers store "A1" as the size of any sheet; read-only mode would trust it.
    patched = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(patched, "w") as target,
    ):
        for item in source.infolist():
            content = source.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                assert b'<dimension ref="A1:A5"/>' in content
                content = content.replace(b'<dimension ref="A1:A5"/>', b'<dimension ref="A1"/>')
            target.writestr(item, content)
    assert [e.text for e in load(patched.getvalue())] == [f"h1: v{n}" for n in range(2, 6)]


def test_a_workbook_without_values_has_no_elements():
    assert load(save(openpyxl.Workbook())) == []


def test_an_encrypted_workbook_is_refused_as_password_protected():
    data = CFB_MAGIC + bytes(504) + "EncryptedPackage".encode("utf-16-le") + bytes(1000)
    with pytest.raises(ValueError, match=r"secret\.xlsx is encrypted / password protected"):
        load(data, "secret.xlsx")


def test_any_ole2_file_is_refused_naming_both_possible_causes():
    with pytest.raises(ValueError, match=r"encrypted / password protected or a legacy \.xls"):
        load(CFB_MAGIC + bytes(2000), "old.xlsx")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("text", "not a .xlsx file \\(it is not a zip package\\)"),
        ("truncated", "not a .xlsx file \\(it is not a zip package\\)"),
        ("word", "not a readable .xlsx \\(Excel\\) file"),
    ],
)
def test_a_file_that_is_not_a_workbook_is_refused_with_a_reason(kind, reason):
    if kind == "text":
        data = b"name,city\nAlice,Paris\n"
    elif kind == "truncated":
        data = workbook()[:400]
    else:
        out = io.BytesIO()
        docx.Document().save(out)
        data = out.getvalue()
    with pytest.raises(ValueError, match=reason):
        load(data)


def test_it_is_registered_and_satisfies_the_contract():
    XlsxLoader.check_contract()
    assert entry_points(group="ministudio.loaders")["xlsx"].load() is XlsxLoader
    assert XlsxLoader.enabled_by_default is True
    assert {".xlsx", ".xlsm"} <= set(XlsxLoader.file_extensions)
