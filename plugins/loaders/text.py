"""Plain text files: decoded carefully (a BOM's UTF-8/16/32, UTF-16 without a BOM, strict
UTF-8, GB18030 for Chinese, cp1252 for Western files that are not UTF-8), split into
paragraphs at blank lines, each with the line it starts on.

``decode`` and ``looks_binary`` are shared with the other text-based loaders (CSV, Markdown,
HTML)."""

import codecs

from plugins.base import Element, Loader, LoaderInput, PluginSettings

# UTF-32 before UTF-16: the UTF-32-LE BOM (FF FE 00 00) starts with the UTF-16-LE one (FF FE).
_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)

#: Share of a GB18030 reading's non-ASCII characters that must be in GB2312 (the common
#: simplified-Chinese set) for it to win over a cp1252 reading of the same bytes.
_GB2312_SHARE = 0.5
#: Share of a cp1252 reading's non-ASCII characters standing between ASCII ones (as accented
#: letters do in Western text) below which the bytes are taken for Chinese.
_ALONE_SHARE = 0.5


def _in_gb2312(char: str) -> bool:
    try:
        char.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _looks_chinese(gb18030: str, cp1252: str) -> bool:
    """Whether bytes that read both as GB18030 and as cp1252 are Chinese.

    Chinese in GBK/GB18030 is mostly GB2312 characters (both bytes >= 0xA1), and even its
    rarer characters come as runs of non-ASCII bytes. Western cp1252 text read as GB18030
    pairs an accented letter with the ASCII letter after it ("schöne" gives "sch鰊e"): valid
    GBK, but rare characters, and in the cp1252 reading each accented letter stands alone
    between ASCII ones.
    """
    non_ascii = [char for char in gb18030 if ord(char) > 0x7F]
    if not non_ascii or sum(map(_in_gb2312, non_ascii)) / len(non_ascii) >= _GB2312_SHARE:
        return True
    padded = f" {cp1252} "
    high = [i for i in range(1, len(padded) - 1) if ord(padded[i]) > 0x7F]
    alone = sum(1 for i in high if ord(padded[i - 1]) < 0x80 and ord(padded[i + 1]) < 0x80)
    return alone / len(high) < _ALONE_SHARE


def _utf16_without_bom(data: bytes) -> str | None:
    """Text of ``data`` if it is UTF-16 without a BOM (some Windows tools write it so).

    Told by its NUL bytes: text in Latin scripts has a NUL high byte in most characters, so
    most odd bytes (little-endian) or even bytes (big-endian) are NUL and almost none of the
    others. Binary data that happens to look so is ruled out by its control characters.
    """
    if len(data) < 2 or len(data) % 2:
        return None
    half = len(data) // 2
    for encoding, high, low in (
        ("utf-16-le", data[1::2], data[0::2]),
        ("utf-16-be", data[0::2], data[1::2]),
    ):
        if high.count(0) >= half / 2 and low.count(0) <= half / 20:
            try:
                text = data.decode(encoding)
            except UnicodeDecodeError:
                return None
            controls = sum(1 for char in text if ord(char) < 0x20 and char not in "\t\n\r\f")
            return text if controls <= len(text) / 100 else None
    return None


def decode(data: bytes) -> str:
    """Text of ``data``: a BOM's encoding first (UTF-8, UTF-32, UTF-16), then strict UTF-8,
    then GB18030 (which also reads GBK and GB2312, the usual encodings of Chinese files that
    are not UTF-8) or cp1252 (Windows' Western European code page, a superset of Latin-1),
    whichever reading looks right. UTF-16 without a BOM is recognised by its NUL bytes.
    Raises ``ValueError`` when none fits."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding)
            except UnicodeDecodeError as error:
                name = encoding.removesuffix("-sig").upper()
                raise ValueError(
                    f"the file starts with a {name} byte order mark but is not valid {name} "
                    f"(byte {error.start})"
                ) from None
    # Before UTF-8, which would accept UTF-16's NUL bytes as text.
    if b"\x00" in data and (text := _utf16_without_bom(data)) is not None:
        return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    readings: dict[str, str] = {}
    for encoding in ("gb18030", "cp1252"):
        try:
            readings[encoding] = data.decode(encoding)
        except UnicodeDecodeError:
            continue
    if "gb18030" in readings and (
        "cp1252" not in readings or _looks_chinese(readings["gb18030"], readings["cp1252"])
    ):
        return readings["gb18030"]
    if "cp1252" in readings:
        return readings["cp1252"]
    raise ValueError(
        "the file is not text in UTF-8, UTF-16, UTF-32, GB18030 or cp1252; save it as UTF-8"
    )


def looks_binary(data: bytes) -> bool:
    """Whether ``data`` holds NUL bytes, which text has only in UTF-16/32."""
    if b"\x00" not in data:
        return False
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_BE)):
        return False
    return _utf16_without_bom(data) is None


class TextLoader(Loader):
    """Plain text files, one paragraph element per block of non-blank lines."""

    display_name = "Plain text"
    description = (
        "Reads .txt files (UTF-8, UTF-16, UTF-32, GB18030/GBK, cp1252) and splits them into "
        "paragraphs."
    )
    file_extensions = (".txt", ".text")
    media_types = ("text/plain",)
    enabled_by_default = True

    def load(self, source: LoaderInput, settings: PluginSettings) -> list[Element]:
        """Paragraphs of ``source``, each with ``metadata["line"]``, the line it starts on.

        Raises ``ValueError`` for binary data or bytes in no supported encoding.
        """
        if looks_binary(source.data):
            raise ValueError(f"{source.filename} looks binary, not like a text file")
        text = decode(source.data).replace("\r\n", "\n").replace("\r", "\n")
        elements: list[Element] = []
        paragraph: list[str] = []
        for number, line in enumerate([*text.split("\n"), ""], start=1):
            if line.strip():
                paragraph.append(line)
            elif paragraph:
                first_line = number - len(paragraph)
                elements.append(
                    Element(
                        type="paragraph",
                        text="\n".join(paragraph).strip(),
                        metadata={"line": first_line},
                    )
                )
                paragraph = []
        return elements
