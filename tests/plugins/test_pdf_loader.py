"""The PDF loader: text per page with page numbers, column order kept, paragraphs joined,
running headers and footers dropped, ruled tables as rows, protected and broken files refused
with a reason. The PDFs are written by tests/plugins/pdfs.py."""

import io
import time
from importlib.metadata import entry_points

import pytest
from pypdf import PdfReader

from plugins.base import LoaderInput, PluginSettings
from plugins.loaders.pdf import PdfLoader, _page_text
from tests.plugins.pdfs import build_pdf, encrypt, grid

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


# --- cleaner text: words, paragraphs, headers and footers -------------------------------------

#: A paragraph set 14 points apart, lines about as wide as a column of a paper.
PARAGRAPH = [
    "Dense retrieval is a practical method for finding the passages that",
    "answer a question, and it is usually implemented with an ef-",
    "ficient index of vectors that is built with state-",
    "of-the-art encoders from a large collection of documents and",
    "queries.",
    "A second paragraph starts here after the short line above it.",
]


def lines_at(texts: list[str], x: float = 72, top: float = 720) -> list[tuple[float, float, str]]:
    return [(x, top - 14 * n, text) for n, text in enumerate(texts)]


def test_a_paragraph_is_one_line_with_broken_words_mended_and_real_hyphens_kept():
    (element,) = load(build_pdf([lines_at(PARAGRAPH)]))
    first, second = element.text.split("\n")
    assert "with an efficient index" in first  # "ef-" + "ficient": the hyphen dropped
    assert "built with state-of-the-art encoders" in first  # a real hyphen kept
    assert first.endswith("documents and queries.")  # a short last line ends it
    assert second == PARAGRAPH[-1]


def test_a_compound_the_document_spells_with_a_hyphen_keeps_it_across_a_line_break():
    texts = [
        "We train a dual-encoder model on pairs of questions and passages",
        "and compare it with a second model, a larger dual-",
        "encoder trained on many more pairs of questions and passages.",
    ]
    (element,) = load(build_pdf([lines_at(texts)]))
    assert "a larger dual-encoder trained" in element.text


def test_lines_of_a_list_and_headings_stay_apart():
    texts = [
        "1 Introduction",
        "The loader reads these kinds of documents from the uploads folder:",
        "• reports written by the finance team every quarter of the year",
        "• handbooks that describe how the teams of the company work",
    ]
    (element,) = load(build_pdf([lines_at(texts)]))
    assert element.text.split("\n") == texts


def test_chinese_lines_of_a_paragraph_join_without_a_space():
    texts = [
        "知识库把上传的文档切分成片段，再用向量模型为每个片段计算向量",
        "，检索时按问题的向量找出最相近的片段。",
        "第二段。",
    ]
    (element,) = load(build_pdf([lines_at(texts)]))
    assert element.text.split("\n") == [texts[0] + texts[1], texts[2]]


def test_running_headers_and_footers_are_dropped_from_every_page():
    pages = [
        [
            (72, 760, "ACME Corporation - Annual report 2024"),
            (72, 720, f"Body text of page {n} about topic number {n}."),
            (72, 40, f"Page {n} of 4"),
        ]
        for n in range(1, 5)
    ]
    elements = load(build_pdf(pages))
    assert [e.text for e in elements] == [
        f"Body text of page {n} about topic number {n}." for n in range(1, 5)
    ]


def test_a_line_repeated_on_two_pages_only_is_kept():
    pages = [
        [(72, 760, "Draft for review"), (72, 720, "First page body.")],
        [(72, 760, "Draft for review"), (72, 720, "Second page body.")],
        [(72, 760, "Appendix"), (72, 720, "Third page body.")],
        [(72, 760, "Glossary"), (72, 720, "Fourth page body.")],
    ]
    elements = load(build_pdf(pages))
    assert [e.text.split("\n")[0] for e in elements] == [
        "Draft for review",
        "Draft for review",
        "Appendix",
        "Glossary",
    ]


# --- tables -----------------------------------------------------------------------------------


def test_a_ruled_table_becomes_rows_under_its_header_and_leaves_the_page_text():
    cells, rules = grid(
        72,
        600,
        [120, 100, 100],
        [["Region", "Revenue", "Growth"], ["Europe", "1,200", "4%"], ["Asia", "2,500", "9%"]],
    )
    page = [(72, 700, "Quarterly results by region."), *cells, (72, 500, "After the table.")]
    elements = load(build_pdf([page], rules=[rules]))
    text, *rows = elements
    assert (text.type, text.page) == ("text", 1)
    # No cell text left; where the table was, a paragraph break.
    assert text.text == "Quarterly results by region.\n\nAfter the table."
    assert [(e.type, e.page, e.text) for e in rows] == [
        ("table", 1, "Region: Europe; Revenue: 1,200; Growth: 4%"),
        ("table", 1, "Region: Asia; Revenue: 2,500; Growth: 9%"),
    ]
    assert [e.metadata for e in rows] == [
        {"table": 1, "row": n, "header": ["Region", "Revenue", "Growth"]} for n in (1, 2)
    ]


def test_an_ordinary_page_of_text_has_no_table():
    left = lines_at([f"left column line {n} with a few words" for n in range(20)], x=72)
    right = lines_at([f"right column line {n} with more words" for n in range(20)], x=320)
    rules = [[(72, 40, 540, 40), (72, 760, 540, 760)]]  # a header rule and a footer rule
    elements = load(build_pdf([left + right], rules=rules))
    assert [e.type for e in elements] == ["text"]


def test_a_boxed_paragraph_is_not_a_table():
    box = [(60, 740, 540, 740), (60, 640, 540, 640), (60, 740, 60, 640), (540, 740, 540, 640)]
    texts = lines_at(["Note: this paragraph sits in a box,", "as a call-out does."], top=720)
    elements = load(build_pdf([texts], rules=[[*box, (300, 740, 300, 640)]]))
    assert [e.type for e in elements] == ["text"]


def test_the_seam_for_ocr_reads_a_pages_text_layer_in_one_place():
    reader = PdfReader(io.BytesIO(build_pdf(PAGES)))
    assert (
        _page_text(reader.pages[0]).text() == "Ministudio handbook\nKnowledge bases hold documents."
    )
    assert _page_text(reader.pages[1]).text() == ""
