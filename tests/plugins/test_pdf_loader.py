"""The PDF loader: text per page with page numbers, column order kept, protected and broken
files refused with a reason. The PDFs are written by tests/plugins/pdfs.py."""

import time
from importlib.metadata import entry_points

import pytest

from plugins.base import LoaderInput, PluginSettings
from plugins.loaders.pdf import PdfLoader
from tests.plugins.pdfs import build_pdf, encrypt

PAGES = [
    [(72, 720, "Ministudio handbook"), (72, 700, "Knowledge bases hold documents.")],
    [],  # a blank page
    [(72, 720, "大模型推理优化策略"), (72, 700, "第三页：中文文本，含标点。")],
]


def load(data: bytes, filename: str = "f.pdf") -> list:
    return PdfLoader().load(LoaderInput(filename=filename, data=data), PluginSettings())


def test_each_page_with_text_is_one_element_with_its_page_number():
    elements = load(build_pdf(PAGES))
    assert [(e.type, e.page, e.text) for e in elements] == [
        ("text", 1, "Ministudio handbook\nKnowledge bases hold documents."),
        ("text", 3, "大模型推理优化策略\n第三页：中文文本，含标点。"),
    ]


def test_a_pdf_of_blank_pages_has_no_elements():
    assert load(build_pdf([[], []])) == []


def test_two_columns_are_read_one_after_the_other_not_line_by_line():
    left = [(72, 720 - 14 * n, f"left column line {n}") for n in range(1, 4)]
    right = [(320, 720 - 14 * n, f"right column line {n}") for n in range(1, 4)]
    (element,) = load(build_pdf([left + right]))
    lines = element.text.split("\n")
    assert lines == [f"left column line {n}" for n in (1, 2, 3)] + [
        f"right column line {n}" for n in (1, 2, 3)
    ]


def test_ligatures_and_tabs_are_normalised():
    (element,) = load(build_pdf([[(72, 720, "e\ufb03cient\tsearch")]]))
    assert element.text == "efficient search"


def test_a_copy_protected_pdf_opens_with_the_empty_password_and_is_read():
    data = encrypt(build_pdf(PAGES), user_password="", copy_protect=True)
    assert [e.page for e in load(data)] == [1, 3]
    assert "中文文本" in load(data)[1].text


def test_a_password_protected_pdf_is_refused_with_a_reason():
    data = encrypt(build_pdf(PAGES), user_password="pw")
    with pytest.raises(ValueError, match=r"secret\.pdf is encrypted / password protected"):
        load(data, "secret.pdf")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "not a PDF file"),
        (b"PK\x03\x04 a zip, not a PDF", "not a PDF file"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 64, "not a readable PDF"),
        (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog >>\nendobj\n%%EOF\n", "not a readable PDF"),
    ],
    ids=["empty", "not-pdf", "garbage-after-header", "no-page-tree"],
)
def test_a_broken_pdf_is_refused_with_a_reason_and_quickly(data, reason):
    started = time.monotonic()
    with pytest.raises(ValueError, match=reason):
        load(data)
    assert time.monotonic() - started < 10


def test_a_truncated_pdf_is_refused_as_truncated_or_corrupt():
    data = build_pdf(PAGES)
    with pytest.raises(ValueError, match="not a readable PDF: it may be truncated or corrupt"):
        load(data[: len(data) // 2])


def test_a_pdf_with_wrong_cross_reference_offsets_is_still_read():
    # A common corruption (a file edited as text): pypdf, not strict, rebuilds the table.
    data = build_pdf(PAGES)
    table = data.index(b"\nxref\n")
    damaged = data[:table] + data[table:].replace(b"0000000", b"0000001")  # offsets + 100
    assert damaged != data
    assert [e.page for e in load(damaged)] == [1, 3]


def test_it_is_registered_and_satisfies_the_contract():
    PdfLoader.check_contract()
    assert entry_points(group="ministudio.loaders")["pdf"].load() is PdfLoader
    assert PdfLoader.enabled_by_default is True
    assert ".pdf" in PdfLoader.file_extensions
