"""The CSV loader: one element per record with its header, dialects sniffed, encodings read."""

import codecs
from importlib.metadata import entry_points

import pytest

from plugins.base import LoaderInput, PluginSettings
from plugins.loaders.csv import CsvLoader

ROWS = [["name", "city", "note"], ["Alice", "Paris, France", ""], ["张三", "北京", "经理; 负责人"]]
EXPECTED = [
    "name: Alice; city: Paris, France",
    "name: 张三; city: 北京; note: 经理; 负责人",
]


def load(data: bytes | str, filename: str = "f.csv") -> list:
    data = data.encode("utf-8") if isinstance(data, str) else data
    return CsvLoader().load(LoaderInput(filename=filename, data=data), PluginSettings())


def write(delimiter: str, rows: list[list[str]] = ROWS) -> str:
    def cell(value: str) -> str:
        quote = any(char in value for char in (delimiter, '"', "\n"))
        return '"' + value.replace('"', '""') + '"' if quote else value

    return "\r\n".join(delimiter.join(cell(value) for value in row) for row in rows) + "\r\n"


def test_each_record_keeps_its_header_in_its_text_and_metadata():
    elements = load(write(","))
    assert [e.text for e in elements] == EXPECTED
    assert [e.type for e in elements] == ["table", "table"]
    assert [e.metadata for e in elements] == [
        {"row": 1, "header": ["name", "city", "note"]},
        {"row": 2, "header": ["name", "city", "note"]},
    ]


@pytest.mark.parametrize(
    ("delimiter", "filename"),
    [(",", "f.csv"), ("\t", "f.tsv"), ("\t", "f.csv"), (";", "f.csv"), ("|", "f.csv")],
)
def test_the_delimiter_is_sniffed(delimiter, filename):
    assert [e.text for e in load(write(delimiter), filename)] == EXPECTED


def test_quoted_delimiters_quotes_and_newlines_stay_inside_one_cell():
    text = 'A,B,C\n1,"x, y, z","say ""hi"""\n2,"two\nlines",3\n'
    assert [e.text for e in load(text)] == [
        'A: 1; B: x, y, z; C: say "hi"',
        "A: 2; B: two\nlines; C: 3",
    ]


def test_semicolon_files_with_decimal_commas_are_split_on_semicolons():
    text = "Artikel;Preis;Menge\nÄpfel;1,50;3\nBirnen;2,25;10\n"
    assert [e.text for e in load(text.encode("cp1252"))] == [
        "Artikel: Äpfel; Preis: 1,50; Menge: 3",
        "Artikel: Birnen; Preis: 2,25; Menge: 10",
    ]


def test_blank_rows_are_skipped_and_not_counted():
    text = "name,age\n\nAlice,30\n,\n  \nBob,40\n"
    assert [(e.text, e.metadata["row"]) for e in load(text)] == [
        ("name: Alice; age: 30", 1),
        ("name: Bob; age: 40", 2),
    ]


def test_blank_header_cells_and_extra_cells_are_named_by_position():
    text = ",title,\n0,first,x,extra\n"
    assert [e.text for e in load(text)] == [
        "column 1: 0; title: first; column 3: x; column 4: extra"
    ]


@pytest.mark.parametrize(
    "data",
    [
        write(",").encode("gb18030"),
        codecs.BOM_UTF8 + write(",").encode("utf-8"),
        write(",").encode("utf-16"),
    ],
    ids=["gb18030", "utf-8-bom", "utf-16"],
)
def test_encodings_are_decoded(data):
    elements = load(data)
    assert [e.text for e in elements] == EXPECTED
    assert elements[0].metadata["header"][0] == "name"  # no BOM left on the first name


def test_a_single_column_file_is_read():
    assert [e.text for e in load("word\nhello\nworld\n")] == ["word: hello", "word: world"]


def test_a_header_only_file_gives_its_header():
    (element,) = load("name,city\n")
    assert (element.text, element.metadata) == (
        "name; city",
        {"row": 0, "header": ["name", "city"]},
    )


def test_an_empty_file_has_no_elements():
    assert load("") == []
    assert load("\n\n,,\n") == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"PK\x03\x04\x14\x00\x00\x00", "looks binary"),
        (b"a,b\ncaf\xe9 \x81,1\n", "not text in UTF-8"),
    ],
)
def test_unreadable_bytes_are_refused_with_a_reason(data, reason):
    with pytest.raises(ValueError, match=reason):
        load(data)


def test_broken_quoting_is_refused_with_the_line():
    # A cell longer than csv's field limit: what an unbalanced quote early in a file gives.
    data = 'a,b\n1,"' + "x" * 200_000 + "\n"
    with pytest.raises(ValueError, match="not valid CSV near line"):
        load(data)


def test_it_is_registered_and_satisfies_the_contract():
    CsvLoader.check_contract()
    assert entry_points(group="ministudio.loaders")["csv"].load() is CsvLoader
    assert CsvLoader.enabled_by_default is True
    assert {".csv", ".tsv"} <= set(CsvLoader.file_extensions)
