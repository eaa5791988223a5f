"""The Word loader: paragraphs, headings and tables in document order; protected, legacy and
wrong files refused with a reason. The documents are made with python-docx here."""

import io
import zipfile
from importlib.metadata import entry_points

import docx
import openpyxl
import pytest
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls

from plugins.base import LoaderInput, PluginSettings
from plugins.loaders._office import CFB_MAGIC
from plugins.loaders.docx import DocxLoader


def load(data: bytes, filename: str = "f.docx") -> list:
    return DocxLoader().load(LoaderInput(filename=filename, data=data), PluginSettings())


def save(document) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def handbook() -> bytes:
    document = docx.Document()
    document.add_heading("员工手册", level=0)  # the "Title" style
    document.add_paragraph("Opening paragraph.")
    document.add_heading("Intro", level=1)
    document.add_paragraph("第一章的内容。")
    document.add_paragraph("first point", style="List Bullet")
    document.add_heading("Scope", level=2)
    table = document.add_table(rows=3, cols=3)
    for row, cells in zip(
        table.rows,
        [("name", "city", "note"), ("Alice", "Paris, France", ""), ("张三", "北京", "经理")],
        strict=True,
    ):
        for cell, text in zip(row.cells, cells, strict=True):
            cell.text = text
    document.add_paragraph("After the table.")
    document.add_heading("Appendix", level=1)
    document.add_paragraph("   ")  # blank paragraphs give nothing
    document.add_paragraph("Last words.")
    return save(document)


def test_paragraphs_headings_and_tables_in_document_order_with_sections():
    assert [(e.type, e.section, e.text) for e in load(handbook())] == [
        ("title", "员工手册", "员工手册"),
        ("paragraph", "员工手册", "Opening paragraph."),
        ("heading", "员工手册 > Intro", "Intro"),
        ("paragraph", "员工手册 > Intro", "第一章的内容。"),
        ("list_item", "员工手册 > Intro", "first point"),
        ("heading", "员工手册 > Intro > Scope", "Scope"),
        ("table", "员工手册 > Intro > Scope", "name | city | note"),
        ("table", "员工手册 > Intro > Scope", "Alice | Paris, France"),
        ("table", "员工手册 > Intro > Scope", "张三 | 北京 | 经理"),
        ("paragraph", "员工手册 > Intro > Scope", "After the table."),
        ("heading", "员工手册 > Appendix", "Appendix"),
        ("paragraph", "员工手册 > Appendix", "Last words."),
    ]


def test_table_rows_carry_the_first_rows_cells_as_header():
    rows = [e for e in load(handbook()) if e.type == "table"]
    header = ["name", "city", "note"]
    assert [e.metadata for e in rows] == [
        {"header": header, "header_row": True},
        {"row": 1, "header": header},
        {"row": 2, "header": header},
    ]


def test_merged_cells_are_read_once_and_nested_tables_are_not_lost():
    document = docx.Document()
    table = document.add_table(rows=2, cols=3)
    table.cell(0, 0).merge(table.cell(0, 1)).text = "merged"
    table.cell(0, 2).text = "c"
    table.cell(1, 0).text = "d"
    nested = table.cell(1, 1).add_table(rows=1, cols=2)
    nested.cell(0, 0).text = "inner 1"
    nested.cell(0, 1).text = "inner 2"
    assert [e.text for e in load(save(document))] == ["merged | c", "d | inner 1 inner 2"]


def test_content_controls_are_read_in_place():
    document = docx.Document()
    document.add_paragraph("before")
    sdt = parse_xml(
        f"<w:sdt {nsdecls('w')}><w:sdtContent><w:p><w:r><w:t>inside a control</w:t></w:r></w:p>"
        "</w:sdtContent></w:sdt>"
    )
    document.element.body.insert(1, sdt)
    assert [e.text for e in load(save(document))] == ["before", "inside a control"]


def test_without_heading_styles_bold_and_capital_lines_are_taken_for_headings():
    document = docx.Document()
    document.add_paragraph().add_run("CHAPTER 1").bold = True
    document.add_paragraph("A.\tPURPOSE")
    document.add_paragraph("The trustee supervises cases.")
    document.add_paragraph("NOT A HEADING BECAUSE IT ENDS LIKE A SENTENCE.")
    elements = load(save(document))
    assert [(e.type, e.section, e.text) for e in elements] == [
        ("heading", "CHAPTER 1", "CHAPTER 1"),
        ("heading", "CHAPTER 1 > A. PURPOSE", "A. PURPOSE"),
        ("paragraph", "CHAPTER 1 > A. PURPOSE", "The trustee supervises cases."),
        ("paragraph", "CHAPTER 1 > A. PURPOSE", "NOT A HEADING BECAUSE IT ENDS LIKE A SENTENCE."),
    ]
    assert elements[0].metadata == {"level": 1, "inferred": True}


def test_with_heading_styles_bold_lines_stay_paragraphs():
    document = docx.Document()
    document.add_heading("Real heading", level=1)
    document.add_paragraph().add_run("Bold line").bold = True
    assert [e.type for e in load(save(document))] == ["heading", "paragraph"]


def test_a_document_without_text_has_no_elements():
    document = docx.Document()
    document.add_paragraph("")
    document.add_table(rows=2, cols=2)
    assert load(save(document)) == []


def test_an_encrypted_document_is_refused_as_password_protected():
    # Office wraps an encrypted package in an OLE2 file with these streams.
    data = CFB_MAGIC + bytes(504) + "EncryptionInfo".encode("utf-16-le") + bytes(50)
    data += "EncryptedPackage".encode("utf-16-le") + bytes(1000)
    with pytest.raises(ValueError, match=r"secret\.docx is encrypted / password protected"):
        load(data, "secret.docx")


def test_a_legacy_doc_file_is_refused_with_a_reason():
    with pytest.raises(ValueError, match=r"password protected or a legacy \.doc file"):
        load(CFB_MAGIC + bytes(2000), "old.docx")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("text", "not a .docx file \\(it is not a zip package\\)"),
        ("truncated", "not a .docx file \\(it is not a zip package\\)"),
        ("other-zip", "not a readable .docx \\(Word\\) file"),
        ("workbook", "not a readable .docx \\(Word\\) file: .*spreadsheetml"),
    ],
)
def test_a_file_that_is_not_a_word_document_is_refused_with_a_reason(kind, reason):
    if kind == "text":
        data = b"just some text"
    elif kind == "truncated":
        data = handbook()[:300]
    elif kind == "other-zip":
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("readme.txt", "not a document")
        data = out.getvalue()
    else:
        out = io.BytesIO()
        openpyxl.Workbook().save(out)
        data = out.getvalue()
    with pytest.raises(ValueError, match=reason):
        load(data)


def test_it_is_registered_and_satisfies_the_contract():
    DocxLoader.check_contract()
    assert entry_points(group="ministudio.loaders")["docx"].load() is DocxLoader
    assert DocxLoader.enabled_by_default is True
    assert DocxLoader.file_extensions == (".docx",)
