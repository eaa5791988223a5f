"""The HTML loader: visible text only, heading paths, tables row by row, declared charsets."""

import codecs
from importlib.metadata import entry_points

import pytest

from plugins.base import LoaderInput, PluginSettings
from plugins.loaders.html import HtmlLoader

PAGE = """<!DOCTYPE html>
<html><head><title>Handbook</title>
<style>p { color: red }</style><script>var secret = "script text";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About</a></nav>
<h1>Intro</h1>
<p>First <b>bold</b> words,<br>second line.</p>
<noscript>Enable JavaScript</noscript>
<template><p>template text</p></template>
<div hidden>hidden text</div>
<h2>Scope</h2>
<ul><li>one <ul><li>nested</li></ul></li><li>two</li></ul>
<pre>  indented
code</pre>
<h2>Prices</h2>
<table>
  <caption>Price list</caption>
  <thead><tr><th>Item</th><th>Price</th><th>Note</th></tr></thead>
  <tbody>
    <tr><td>Coffee</td><td>$<span>3</span>.50</td><td>hot, black</td></tr>
    <tr><td></td><td></td><td></td></tr>
    <tr><td>Tea</td><td>2.00</td><td></td></tr>
  </tbody>
</table>
<p>After the table.</p>
</body></html>"""


def load(data: bytes | str, filename: str = "f.html") -> list:
    data = data.encode("utf-8") if isinstance(data, str) else data
    return HtmlLoader().load(LoaderInput(filename=filename, data=data), PluginSettings())


def test_visible_text_in_reading_order_with_section_paths():
    assert [(e.type, e.section, e.text) for e in load(PAGE)] == [
        ("title", None, "Handbook"),
        ("heading", "Intro", "Intro"),
        ("paragraph", "Intro", "First bold words,\nsecond line."),
        ("heading", "Intro > Scope", "Scope"),
        ("list_item", "Intro > Scope", "one"),
        ("list_item", "Intro > Scope", "nested"),
        ("list_item", "Intro > Scope", "two"),
        ("code", "Intro > Scope", "  indented\ncode"),
        ("heading", "Intro > Prices", "Prices"),
        ("paragraph", "Intro > Prices", "Price list"),
        ("table", "Intro > Prices", "Item | Price | Note"),
        ("table", "Intro > Prices", "Coffee | $3.50 | hot, black"),
        ("table", "Intro > Prices", "Tea | 2.00"),
        ("paragraph", "Intro > Prices", "After the table."),
    ]


def test_no_script_style_noscript_template_nav_or_hidden_text():
    text = "\n".join(e.text for e in load(PAGE))
    for unwanted in ("secret", "color", "JavaScript", "template text", "Home", "hidden text"):
        assert unwanted not in text


def test_table_rows_carry_the_header_row_cells():
    rows = [e for e in load(PAGE) if e.type == "table"]
    assert rows[0].metadata == {"header": ["Item", "Price", "Note"], "header_row": True}
    assert rows[1].metadata == {"row": 1, "header": ["Item", "Price", "Note"]}
    assert rows[2].metadata == {"row": 2, "header": ["Item", "Price", "Note"]}


def test_a_table_without_th_cells_has_no_header():
    rows = load("<table><tr><td>a</td><td>b</td></tr><tr><td>c</td><td>d</td></tr></table>")
    assert [(e.text, e.metadata) for e in rows] == [("a | b", {"row": 1}), ("c | d", {"row": 2})]


def test_a_layout_table_is_read_as_blocks():
    page = (
        "<table><tr><td><h1>Title</h1><p>Body text.</p>"
        "<table><tr><td>x</td><td>y</td></tr></table></td></tr></table>"
    )
    assert [(e.type, e.text) for e in load(page)] == [
        ("heading", "Title"),
        ("paragraph", "Body text."),
        ("table", "x | y"),
    ]


CP1252_TEXT = "Die schöne Frau sagte: „köstlich!“ \u2013 15,50 €"


@pytest.mark.parametrize(
    "data",
    [
        f"<html><body><p>{CP1252_TEXT}</p></body></html>".encode("cp1252"),
        f'<html><head><meta charset="windows-1252"></head><p>{CP1252_TEXT}</p>'.encode("cp1252"),
        # Browsers read a "latin1" label as cp1252, and pages rely on it for € and quotes.
        (
            '<html><head><meta http-equiv="Content-Type" content="text/html; '
            f'charset=iso-8859-1"></head><p>{CP1252_TEXT}</p>'
        ).encode("cp1252"),
        # A page that says UTF-8 but is not: the declaration is a lie, the bytes are read.
        f'<meta charset="utf-8"><p>{CP1252_TEXT}</p>'.encode("cp1252"),
    ],
    ids=["undeclared", "meta-charset", "latin1-label", "wrong-declaration"],
)
def test_cp1252_pages_are_decoded_without_mojibake(data):
    assert [e.text for e in load(data) if e.type == "paragraph"] == [CP1252_TEXT]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ('<meta charset="gb2312"><h1>知识库</h1><p>中文段落。</p>'.encode("gbk"), "中文段落。"),
        (codecs.BOM_UTF8 + "<p>über</p>".encode(), "über"),
        ("<p>über 中文</p>".encode("utf-16"), "über 中文"),
        (
            (
                '<?xml version="1.0" encoding="utf-8"?>\n'
                '<html xmlns="http://www.w3.org/1999/xhtml">'
                "<body><p>xhtml ünïcode</p></body></html>"
            ).encode(),
            "xhtml ünïcode",
        ),
    ],
    ids=["gb2312-meta", "utf8-bom", "utf16-bom", "xhtml"],
)
def test_declared_and_bom_encodings_are_honoured(data, expected):
    assert [e.text for e in load(data) if e.type == "paragraph"] == [expected]


def test_deeply_nested_markup_does_not_hit_the_recursion_limit():
    page = "<div>" * 3000 + "<p>deep</p>" + "</div>" * 3000
    assert [e.text for e in load(page)] == ["deep"]


def test_a_page_with_no_text_has_no_elements():
    assert load("") == []
    assert load("<html><head><script>x()</script></head><body> &nbsp; </body></html>") == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"\x89PNG\r\n\x1a\n\x00\x00IHDR", "looks binary"), (b"<p>caf\xe9 \x81</p>", "not text")],
)
def test_unreadable_bytes_are_refused_with_a_reason(data, reason):
    with pytest.raises(ValueError, match=reason):
        load(data)


def test_it_is_registered_and_satisfies_the_contract():
    HtmlLoader.check_contract()
    assert entry_points(group="ministudio.loaders")["html"].load() is HtmlLoader
    assert HtmlLoader.enabled_by_default is True
    assert {".html", ".htm", ".xhtml"} <= set(HtmlLoader.file_extensions)
