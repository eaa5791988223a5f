"""Plain text files: decoded carefully (UTF-8, UTF-16 with a BOM, GB18030 for Chinese),
split into paragraphs at blank lines, each with the line it starts on."""

import codecs

from plugins.base import Element, Loader, LoaderInput, PluginSettings


def decode(data: bytes) -> str:
    """Text of ``data``: BOMs first, then strict UTF-8, then GB18030 (which also reads GBK
    and GB2312, the usual encodings of Chinese files that are not UTF-8)."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if data.startswith(bom):
            return data.decode(encoding)
    for encoding in ("utf-8", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ValueError("the file is not text in UTF-8, UTF-16 or GB18030")


class TextLoader(Loader):
    display_name = "Plain text"
    description = "Reads .txt files (UTF-8, UTF-16, GB18030) and splits them into paragraphs."
    file_extensions = (".txt", ".text")
    media_types = ("text/plain",)
    enabled_by_default = True

    def load(self, source: LoaderInput, settings: PluginSettings) -> list[Element]:
        if b"\x00" in source.data and not source.data.startswith(
            (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
        ):
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
