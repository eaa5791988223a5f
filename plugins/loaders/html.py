"""HTML pages: the readable text in reading order, without scripts, styles or navigation;
headings give every element its section path, data tables are read row by row.

Parsed with BeautifulSoup on lxml's HTML parser, which repairs broken markup as browsers do."""

import codecs
import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, Comment, Declaration, Doctype, NavigableString, Tag
from bs4.element import ProcessingInstruction

from plugins.base import Element, Loader, LoaderInput, PluginSettings
from plugins.loaders.text import decode, looks_binary

# Elements whose text is not part of the page a person reads.
_SKIP = (
    "script",
    "style",
    "noscript",
    "template",
    "head",
    "nav",
    "svg",
    "math",
    "canvas",
    "iframe",
    "object",
    "embed",
    "select",
    "button",
)
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
# Elements that end the text before them and start a new piece.
_BLOCKS = frozenset(
    (
        *("address", "article", "aside", "blockquote", "body", "caption", "center", "dd"),
        *("details", "dialog", "div", "dl", "dt", "fieldset", "figcaption", "figure"),
        *("footer", "form", "header", "hgroup", "hr", "html", "li", "main", "menu", "ol"),
        *("p", "section", "summary", "table", "tbody", "td", "tfoot", "th", "thead", "tr"),
        "ul",
    )
)
_NOT_TEXT = (Comment, Declaration, Doctype, ProcessingInstruction)
# Only the start of a page is searched for its declared encoding, as browsers do.
_SNIFF_BYTES = 4096
_META_CHARSET = re.compile(rb"""<meta[^>]*?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._-]+)""")
# The WHATWG encoding standard's aliases that matter: browsers read these labels as the
# superset encodings, and pages rely on it (a "latin1" page with curly quotes is cp1252).
_ALIASES = {
    "latin1": "cp1252",
    "iso88591": "cp1252",
    "usascii": "cp1252",
    "ascii": "cp1252",
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "xgbk": "gb18030",
    "utf16": "utf-8",  # a page that declares UTF-16 without a BOM is read as UTF-8
}
_BR = object()  # a line break inside a piece of text
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*>")


def _declared_encoding(data: bytes) -> str | None:
    head = data[:_SNIFF_BYTES]
    match = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if not match:
        return None
    label = match[1].decode("ascii").lower()
    label = _ALIASES.get(re.sub(r"[^a-z0-9]", "", label), label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None  # an unknown label: guess as if there were none


def _decode_page(data: bytes) -> str:
    """Text of a page: a BOM wins, then the declared charset, then ``decode``'s guess (a page
    that declares nothing, or lies about it, is still read)."""
    if not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = _declared_encoding(data)
        if encoding:
            try:
                return data.decode(encoding)
            except UnicodeDecodeError:
                pass
    return decode(data)


def _collapse(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _text_of(tag: Tag) -> str:
    """The text of a heading or table cell on one line. Inline tags join without a space
    (``<span>(</span>702<span>)</span>`` is "(702)"), block tags and ``<br>`` with one."""
    pieces = []
    for node in tag.descendants:
        if isinstance(node, NavigableString):
            if not isinstance(node, _NOT_TEXT):
                pieces.append(str(node))
        elif isinstance(node, Tag) and (node.name in _BLOCKS or node.name == "br"):
            pieces.append(" ")
    return _collapse("".join(pieces))


@dataclass
class _Reader:
    """Walks a parsed page into elements; one instance per ``load`` call."""

    elements: list[Element] = field(default_factory=list)
    headings: list[tuple[int, str]] = field(default_factory=list)
    buffer: list[object] = field(default_factory=list)

    @property
    def section(self) -> str | None:
        return " > ".join(text for _, text in self.headings) or None

    def emit(self, type_: str, text: str, **metadata: object) -> None:
        self.elements.append(
            Element(type=type_, text=text, section=self.section, metadata=metadata)
        )

    def flush(self, kind: str) -> None:
        """Emit the inline text read so far as one element of type ``kind``."""
        lines, line = [], []
        for piece in [*self.buffer, _BR]:
            if piece is _BR:
                lines.append(_collapse("".join(line)))
                line = []
            else:
                line.append(str(piece))
        self.buffer = []
        text = "\n".join(line for line in lines if line)
        if text:
            self.emit(kind, text)

    def heading(self, level: int, text: str) -> None:
        if not text:
            return
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        self.headings.append((level, text))
        self.emit("heading", text, level=level)

    def table(self, table: Tag) -> None:
        """One "table" element per non-empty row, cells joined with " | "; header rows (all
        ``<th>``, or in ``<thead>``) are emitted too and kept in later rows'
        ``metadata["header"]``."""
        caption = table.find("caption")
        if caption and caption.find_parent("table") is table and (text := _text_of(caption)):
            self.emit("paragraph", text)
        header: list[str] | None = None
        number = 0
        for row in table.find_all("tr"):
            if row.find_parent("table") is not table:
                continue  # a nested table's row; it reads as part of its cell
            cells = row.find_all(("td", "th"), recursive=False)
            texts = [text for cell in cells if (text := _text_of(cell))]
            if not texts:
                continue  # spacer rows
            in_head = row.parent is not None and row.parent.name == "thead"
            if in_head or all(cell.name == "th" for cell in cells):
                header = texts
                self.emit("table", " | ".join(texts), header=header, header_row=True)
                continue
            number += 1
            metadata: dict[str, object] = {"row": number}
            if header:
                metadata["header"] = header
            self.emit("table", " | ".join(texts), **metadata)

    def read(self, root: Tag) -> list[Element]:
        # An explicit stack, not recursion: generated pages nest deeper than Python's limit.
        todo: list[tuple[object, str, bool]] = [(root, "paragraph", False)]
        while todo:
            node, kind, leaving = todo.pop()
            if leaving:
                self.flush(kind)
                continue
            if isinstance(node, NavigableString):
                if not isinstance(node, _NOT_TEXT):
                    self.buffer.append(str(node))
                continue
            if not isinstance(node, Tag):
                continue
            name = node.name
            if name == "br":
                self.buffer.append(_BR)
            elif name in _HEADINGS:
                self.flush(kind)
                self.heading(_HEADINGS[name], _text_of(node))
            elif name == "pre":
                self.flush(kind)
                if text := node.get_text().strip("\n"):
                    self.emit("code", text)
            elif name == "table" and not _is_layout(node):
                self.flush(kind)
                self.table(node)
            elif name in _BLOCKS:
                self.flush(kind)
                inner = "list_item" if name == "li" else kind
                todo.append((node, inner, True))
                todo.extend((child, inner, False) for child in reversed(node.contents))
            else:
                todo.extend((child, kind, False) for child in reversed(node.contents))
        self.flush("paragraph")
        return self.elements


def _is_layout(table: Tag) -> bool:
    """Whether a table lays out a page rather than holding data: it holds tables or
    headings (old pages put everything in one), so it is read as ordinary blocks."""
    return table.find(("table", *_HEADINGS)) is not None


class HtmlLoader(Loader):
    """HTML pages: readable text, headings as section paths, tables row by row."""

    display_name = "HTML"
    description = (
        "Reads HTML pages: the visible text without scripts, styles or navigation, headings "
        "as section paths and each table row as one element. Honours the declared charset."
    )
    file_extensions = (".html", ".htm", ".xhtml")
    media_types = ("text/html", "application/xhtml+xml")
    enabled_by_default = True

    def load(self, source: LoaderInput, settings: PluginSettings) -> list[Element]:
        """Elements of ``source`` in reading order: the page's "title", then "heading"
        (``metadata["level"]``), "paragraph", "list_item", "code" (``<pre>``) and "table"
        (one per row, cells joined with " | "; rows after a header row carry its cells in
        ``metadata["header"]``), each with the heading path it is under as ``section``.

        Raises ``ValueError`` for binary data or bytes in no supported encoding.
        """
        if looks_binary(source.data):
            raise ValueError(f"{source.filename} looks binary, not like an HTML page")
        # The XML declaration of XHTML pages is spent once decoded; dropped, it no longer makes
        # BeautifulSoup warn that XML is being parsed as HTML.
        text = _XML_DECLARATION.sub("", _decode_page(source.data), count=1)
        soup = BeautifulSoup(text, "lxml")
        elements: list[Element] = []
        title = soup.find("title")
        if title and (text := _collapse(title.get_text(" "))):
            elements.append(Element(type="title", text=text))
        for tag in soup.find_all(_SKIP):
            tag.decompose()
        for tag in soup.find_all(hidden=True):
            tag.decompose()  # the hidden attribute: not rendered, not read
        mains = soup.find_all("main") or soup.find_all(attrs={"role": "main"})
        # One main element holds the page's content; the rest is site chrome.
        root = mains[0] if len(mains) == 1 else (soup.body or soup)
        return elements + _Reader().read(root)
