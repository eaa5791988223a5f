"""Markdown files: headings (ATX and setext) give every element its section path, fenced code
blocks are kept whole, list items and pipe-table rows are elements of their own.

A small line-based reader of the CommonMark block structure, not a full parser: inline markup
is left in the text (a chunk of Markdown reads fine as Markdown), only headings lose theirs so
that section paths read as plain titles."""

import re
from dataclasses import dataclass, field

from plugins.base import Element, Loader, LoaderInput, PluginSettings
from plugins.loaders.text import decode, looks_binary

_FENCE = re.compile(r"^ {0,3}(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_ATX = re.compile(r"^ {0,3}(?P<marks>#{1,6})(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT_1 = re.compile(r"^ {0,3}=+[ \t]*$")
_SETEXT_2 = re.compile(r"^ {0,3}-+[ \t]*$")
_BREAK = re.compile(r"^ {0,3}([-*_])(?:[ \t]*\1){2,}[ \t]*$")
_LIST_ITEM = re.compile(r"^(?P<indent>[ \t]*)(?:[-+*]|\d{1,9}[.)])(?:[ \t]+|$)")
_TABLE_DELIMITER = re.compile(r"^[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*$")
_FRONT_MATTER_KEY = re.compile(r"^[A-Za-z_][\w-]*[ \t]*:")
# Inline markup dropped from heading text: links/images keep their text; emphasis and code
# spans their content.
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(.+?)\1")


@dataclass
class _Block:
    """Lines of the paragraph or list item being read."""

    type: str = "paragraph"
    lines: list[str] = field(default_factory=list)
    start: int = 0
    level: int = 0


def _plain(heading: str) -> str:
    return _EMPHASIS.sub(r"\2", _LINK.sub(r"\1", heading)).strip()


def _cells(row: str) -> list[str]:
    """The cells of a pipe-table row; escaped pipes (\\|) stay inside their cell."""
    row = row.strip()
    row = row.removeprefix("|")
    if row.endswith("|") and not row.endswith("\\|"):
        row = row[:-1]
    return [cell.strip().replace("\\|", "|") for cell in re.split(r"(?<!\\)\|", row)]


class _Reader:
    """Turns lines into elements; one instance per ``load`` call."""

    def __init__(self, lines: list[str]) -> None:
        self.lines = lines
        self.elements: list[Element] = []
        self.headings: list[tuple[int, str]] = []
        self.block = _Block()
        # The open list items around the current one: (indent, text without its marker).
        self.list_items: list[tuple[int, str]] = []

    @property
    def section(self) -> str | None:
        return " > ".join(text for _, text in self.headings) or None

    def emit(self, type_: str, text: str, line: int, **metadata: object) -> None:
        self.elements.append(
            Element(
                type=type_, text=text, section=self.section, metadata={"line": line, **metadata}
            )
        )

    def flush(self) -> None:
        block, self.block = self.block, _Block()
        text = "\n".join(block.lines).strip()
        if not text:
            return
        if block.type == "list_item":
            # An item of a nested list ("- IVF" under "- Tree-based") means little alone:
            # its ancestors' text goes along, for chunkers and search hits to show.
            parents = [item for _, item in self.list_items[: block.level - 1]]
            metadata = {"level": block.level, **({"parents": parents} if parents else {})}
            self.emit("list_item", text, block.start, **metadata)
        else:
            self.emit("paragraph", text, block.start)

    def heading(self, level: int, text: str, line: int) -> None:
        self.flush()
        self.list_items = []
        text = _plain(text)
        if not text:
            return  # "#" alone: an empty heading names no section
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        self.headings.append((level, text))
        self.emit("heading", text, line, level=level)

    def read(self) -> list[Element]:
        lines, index = self.lines, self.front_matter()
        while index < len(lines):
            line = lines[index]
            number = index + 1
            fence = _FENCE.match(line)
            # A backtick fence's info string has no backtick (else it is inline code).
            if fence and (fence["fence"][0] != "`" or "`" not in fence["info"]):
                index = self.code(index, fence["fence"], fence["info"].strip())
                continue
            if atx := _ATX.match(line):
                self.heading(len(atx["marks"]), atx["text"] or "", number)
            elif not line.strip():
                self.flush()
            elif self.block.lines and self.block.type == "paragraph" and _SETEXT_1.match(line):
                self.setext(1)
            elif self.block.lines and self.block.type == "paragraph" and _SETEXT_2.match(line):
                self.setext(2)
            elif _BREAK.match(line):
                self.flush()
            elif item := _LIST_ITEM.match(line):
                self.flush()
                indent = len(item["indent"].expandtabs(4))
                while self.list_items and self.list_items[-1][0] >= indent:
                    self.list_items.pop()
                self.list_items.append((indent, _plain(line[item.end() :])))
                self.block = _Block("list_item", [line.strip()], number, len(self.list_items))
            elif not self.block.lines and self.is_table(index):
                index = self.table(index)
                continue
            else:
                if not self.block.lines:
                    self.block = _Block("paragraph", [], number)
                    if not line.startswith((" ", "\t")):
                        self.list_items = []
                # A list item's continuation lines are dedented; a paragraph's kept as written.
                self.block.lines.append(line.strip() if self.block.type == "list_item" else line)
            index += 1
        self.flush()
        return self.elements

    def front_matter(self) -> int:
        """Skip past YAML front matter, kept as one "text" element; the index after it."""
        if not self.lines or self.lines[0].strip() != "---":
            return 0
        for end in range(1, min(len(self.lines), 200)):
            if self.lines[end].strip() in ("---", "..."):
                body = self.lines[1:end]
                if any(_FRONT_MATTER_KEY.match(line) for line in body):
                    text = "\n".join(body).strip()
                    self.emit("text", text, 2, front_matter=True)
                    return end + 1
                break
        return 0

    def setext(self, level: int) -> None:
        block, self.block = self.block, _Block()
        self.heading(level, " ".join(line.strip() for line in block.lines), block.start)

    def code(self, index: int, fence: str, info: str) -> int:
        """Read a fenced code block starting at ``index``; the index after it."""
        self.flush()
        closing = re.compile(rf"^ {{0,3}}{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        end = index + 1
        while end < len(self.lines) and not closing.match(self.lines[end]):
            end += 1
        # An unclosed fence runs to the end of the document, as CommonMark says.
        block = self.lines[index : end + 1]
        if any(line.strip() for line in self.lines[index + 1 : end]):
            metadata = {"language": info.split()[0]} if info else {}
            self.emit("code", "\n".join(block).rstrip(), index + 1, **metadata)
        return end + 1

    def is_table(self, index: int) -> bool:
        """Whether a pipe table starts at ``index``: a header row, then a delimiter row
        ("| --- | :-: |") with as many cells."""
        if index + 1 >= len(self.lines):
            return False
        header, delimiter = self.lines[index], self.lines[index + 1]
        return (
            "|" in header
            and "|" in delimiter
            and bool(_TABLE_DELIMITER.match(delimiter))
            and len(_cells(header)) == len(_cells(delimiter))
        )

    def table(self, index: int) -> int:
        """Read a pipe table whose header is at ``index``; the index after it."""
        header = _cells(self.lines[index])
        self.emit("table", " | ".join(header), index + 1, header=header, row=0)
        end, row = index + 2, 0
        while end < len(self.lines) and self.lines[end].strip() and "|" in self.lines[end]:
            cells = _cells(self.lines[end])
            if any(cells):
                row += 1
                self.emit("table", " | ".join(cells), end + 1, header=header, row=row)
            end += 1
        return end


class MarkdownLoader(Loader):
    """Markdown files, split along their structure with heading paths as sections."""

    display_name = "Markdown"
    description = (
        "Reads Markdown files: headings become section paths (e.g. 'Intro > Scope'), fenced "
        "code blocks stay whole, list items and table rows become their own elements."
    )
    file_extensions = (".md", ".markdown")
    media_types = ("text/markdown", "text/x-markdown")
    enabled_by_default = True

    def load(self, source: LoaderInput, settings: PluginSettings) -> list[Element]:
        """Elements of ``source`` in reading order: "heading" (``metadata["level"]``),
        "paragraph", "list_item" (``metadata["level"]``, its nesting depth), "code" (the whole
        fenced block, ``metadata["language"]`` when given) and "table" (one per row, cells
        joined with " | ", ``metadata["header"]``), each with the heading path it is under as
        ``section`` and ``metadata["line"]``, the 1-based line it starts on.

        Raises ``ValueError`` for binary data or bytes in no supported encoding.
        """
        if looks_binary(source.data):
            raise ValueError(f"{source.filename} looks binary, not like a Markdown file")
        text = decode(source.data).replace("\r\n", "\n").replace("\r", "\n")
        return _Reader(text.split("\n")).read()
