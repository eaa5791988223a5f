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
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        TEXT.encode("utf-32"),  # with its BOM, which starts like UTF-16-LE's
        codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"),
        TEXT.encode("gb18030"),
        TEXT.encode("gbk"),
    ],
    ids=["utf-8", "utf-8-bom", "utf-16", "utf-16-be", "utf-32", "utf-32-be", "gb18030", "gbk"],
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
    # 0xE9 then a space is not GB18030; 0x81 is undefined in cp1252.
    with pytest.raises(ValueError, match="not text in UTF-8, UTF-16, UTF-32, GB18030 or cp1252"):
        load(b"caf\xe9 \x81\xff")


def test_a_bom_with_invalid_text_after_it_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="UTF-8 byte order mark but is not valid UTF-8"):
        load(codecs.BOM_UTF8 + b"caf\xe9")


WESTERN = "Die schöne Frau sagte: „Das war köstlich!“ \u2013 15,50 €.\n\nL'été était très chaud."


@pytest.mark.parametrize(
    "text",
    [
        WESTERN,
        "café au lait",  # é + space is invalid GB18030: only cp1252 reads it
        "schöne",  # ö + n is valid GBK (鰊), a rare character: cp1252 wins
        "Kvinnan åt köttbullar",
    ],
)
def test_cp1252_is_read_without_mojibake(text):
    elements = load(text.encode("cp1252"))
    assert "\n\n".join(e.text for e in elements) == text


@pytest.mark.parametrize(
    "text",
    [
        "简体中文，全角标点：“引号”。",
        "臺灣的繁體中文",  # traditional, yet GB2312 characters
        "這個繁體字",  # mostly outside GB2312, but no lone accented letters
        "数字\uff11\uff12\uff13和English混排",  # full-width digits,
    ],
)
def test_chinese_that_cp1252_could_also_read_is_read_as_gb18030(text):
    data = text.encode("gbk")
    data.decode("cp1252")  # the ambiguity this test is about
    assert [e.text for e in load(data)] == [text]


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_bom_is_recognised_by_its_nul_bytes(encoding):
    elements = load(TEXT.encode(encoding))
    assert [e.text for e in elements] == ["第一段\n还是第一段", "Second paragraph.", "third"]


def test_binary_data_with_a_utf16_like_nul_pattern_is_still_binary():
    # Little-endian 16-bit numbers below 256: NUL high bytes, but control characters as text.
    samples = bytes(value for n in range(200) for value in (n % 32, 0))
    with pytest.raises(ValueError, match="looks binary"):
        load(samples)


def test_utf32_text_and_stray_nul_bytes():
    assert load("hé".encode("utf-32"))[0].text == "hé"
    with pytest.raises(ValueError, match="looks binary"):
        load(b"text\x00more")
