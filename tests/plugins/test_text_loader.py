"""The text loader: encodings people actually have, paragraphs with their line numbers."""

import codecs

import pytest

from plugins.base import LoaderInput, PluginSettings
from plugins.loaders.text import TextLoader

TEXT = "第一段\n还是第一段\n\n\nSecond paragraph.\r\n\r\n  third  "


def load(data: bytes) -> list:
    return TextLoader().load(LoaderInput(filename="f.txt", data=data), PluginSettings())


@pytest.mark.parametrize(
    "data",
    [
        TEXT.encode("utf-8"),
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        TEXT.encode("utf-16"),  # with its BOM
        TEXT.encode("gb18030"),
        TEXT.encode("gbk"),
    ],
)
def test_paragraphs_in_every_encoding(data):
    elements = load(data)
    assert [(e.text, e.metadata["line"]) for e in elements] == [
        ("第一段\n还是第一段", 1),
        ("Second paragraph.", 5),
        ("third", 7),
    ]
    assert {e.type for e in elements} == {"paragraph"}


def test_an_empty_or_blank_file_has_no_elements():
    assert load(b"") == []
    assert load(b"  \n\n \t\n") == []


def test_a_binary_file_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="looks binary"):
        load(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")


def test_it_satisfies_the_contract():
    TextLoader.check_contract()
    assert TextLoader.enabled_by_default is True


def test_bytes_in_no_known_encoding_are_refused_with_a_reason():
    with pytest.raises(ValueError, match="not text in UTF-8, UTF-16 or GB18030"):
        load(b"caf\xe9 \x80\xff")
