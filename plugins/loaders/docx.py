"""Word (.docx) files: paragraphs, headings and tables in document order, via python-docx.

Headings are recognised by their paragraph style ("Title", "Heading 1".."Heading 9", and
the "标题 N" names Chinese Word and WPS give them) or by an outline level, and give every
element its section path."""

import io
import re

import docx
from docx.document import Document
from docx.oxml.ns import qn
from docx.table import Table, _Cell
from docx.text.paragraph import Paragraph
from lxml.etree import _Element

from plugins.base import Element, Loader, LoaderInput, PluginSettings
from plugins.loaders._office import check_ooxml

_HEADING_STYLE = re.compile(r"^(?:heading|标题)\s*(\d)$", re.IGNORECASE)
_TITLE_STYLES = frozenset({"title", "标题"})
_OUTLINE_LEVEL = "./w:pPr/w:outlineLvl/@w:val"
# Outline level 9 is the body-text level: not a heading.
_BODY_LEVEL = 9
# The longest line taken for a heading in a document without heading styles.
_MAX_INFERRED_HEADING = 100


def _outline_level(paragraph: Paragraph) -> int | None:
    """The outline level (0-8) set on the paragraph or its style chain, if any."""
    values = paragraph._p.xpath(_OUTLINE_LEVEL)
    style = paragraph.style
    for _ in range(10):  # styles inherit (based_on); a bounded walk survives a cycle
        if values or style is None:
            break
        values = style.element.xpath(_OUTLINE_LEVEL)
        style = style.base_style
    if values and values[0].isdigit() and int(values[0]) < _BODY_LEVEL:
        return int(values[0])
    return None


def _heading_level(paragraph: Paragraph) -> int | None:
    """0 for a title, 1-9 for headings, None for other paragraphs."""
    name = (paragraph.style.name or "").strip() if paragraph.style is not None else ""
    if name.lower() in _TITLE_STYLES:
        return 0
    if match := _HEADING_STYLE.match(name):
        return int(match[1])
    if name.lower().startswith("toc"):
        return None  # table-of-contents entries carry outline levels of their own
    level = _outline_level(paragraph)
    return None if level is None else level + 1


def _looks_like_heading(paragraph: Paragraph, text: str) -> int | None:
    """For documents without heading styles: 1 for a short line set all in bold, 2 for a short
    line in capitals ("A. PURPOSE"), None for anything else. A line ending like a sentence
    or a clause is never a heading."""
    if len(text) > _MAX_INFERRED_HEADING or text.endswith((".", ",", ";", ":", "。", "，")):
        return None
    runs = [run for run in paragraph.runs if run.text.strip()]
    if runs and all(run.bold for run in runs):
        return 1
    letters = [char for char in text if char.isalpha()]
    if len(letters) >= 2 and all(char.isupper() for char in letters):
        return 2
    return None


def _is_list_item(paragraph: Paragraph) -> bool:
    numbered = bool(paragraph._p.xpath("./w:pPr/w:numPr"))
    style = paragraph.style.name if paragraph.style is not None else ""
    return numbered or (style or "").lower().startswith("list")


def _blocks(container: _Element, document: Document) -> list[Paragraph | Table]:
    """Paragraphs and tables of ``container`` in document order, including those inside
    content controls (``w:sdt``), which python-docx's own iteration skips."""
    blocks: list[Paragraph | Table] = []
    for child in container.iterchildren():
        if child.tag == qn("w:p"):
            blocks.append(Paragraph(child, document))
        elif child.tag == qn("w:tbl"):
            blocks.append(Table(child, document))
        elif child.tag == qn("w:sdt"):
            content = child.find(qn("w:sdtContent"))
            if content is not None:
                blocks.extend(_blocks(content, document))
    return blocks


def _row_cells(row_element: _Element, table: Table) -> list[str]:
    """Text of each cell of a table row, one line per cell.

    Reads the row's own ``w:tc`` elements: ``row.cells`` repeats a merged cell once per grid
    column it spans. Paragraphs of nested tables are included (``_Cell.text`` drops them).
    """
    cells = []
    for tc in row_element.findall(qn("w:tc")):
        cell = _Cell(tc, table)
        text = " ".join(Paragraph(p, cell).text for p in tc.iter(qn("w:p")))
        cells.append(re.sub(r"\s+", " ", text).strip())
    return cells


class _Reader:
    """Turns a document's blocks into elements; one instance per ``load`` call."""

    def __init__(self, *, infer_headings: bool) -> None:
        self.infer_headings = infer_headings
        self.elements: list[Element] = []
        self.headings: list[tuple[int, str]] = []

    def emit(self, type_: str, text: str, **metadata: object) -> None:
        section = " > ".join(text for _, text in self.headings) or None
        self.elements.append(Element(type=type_, text=text, section=section, metadata=metadata))

    def paragraph(self, paragraph: Paragraph) -> None:
        text = paragraph.text.strip()
        if not text:
            return
        level = _heading_level(paragraph)
        inferred = level is None and self.infer_headings
        if inferred and not _is_list_item(paragraph):
            level = _looks_like_heading(paragraph, text)
        if level is None:
            self.emit("list_item" if _is_list_item(paragraph) else "paragraph", text)
            return
        text = re.sub(r"\s+", " ", text)
        while self.headings and self.headings[-1][0] >= level:
            self.headings.pop()
        self.headings.append((level, text))
        metadata: dict[str, object] = {"level": level}
        if inferred:
            metadata["inferred"] = True  # from bold or capitals, not a heading style
        self.emit("title" if level == 0 else "heading", text, **metadata)

    def table(self, table: Table) -> None:
        """One "table" element per non-empty row, cells joined with " | ". Word has no header
        cells, so the first row of a table with more than one is taken as its header: it is
        emitted too and its cells ride along in later rows' ``metadata["header"]``."""
        rows = [
            [cell for cell in _row_cells(tr, table) if cell]
            for tr in table._tbl.findall(qn("w:tr"))
        ]
        rows = [cells for cells in rows if cells]
        if not rows:
            return
        if len(rows) == 1:
            self.emit("table", " | ".join(rows[0]), row=1)
            return
        header, *body = rows
        self.emit("table", " | ".join(header), header=header, header_row=True)
        for number, cells in enumerate(body, start=1):
            self.emit("table", " | ".join(cells), row=number, header=header)


class DocxLoader(Loader):
    """Word .docx files: paragraphs, headings and table rows in document order."""

    display_name = "Word (.docx)"
    description = (
        "Reads Word .docx files: paragraphs, list items and tables (one element per row) in "
        "document order, with heading styles as section paths. Not legacy .doc files."
    )
    file_extensions = (".docx",)
    media_types = ("application/vnd.openxmlformats-officedocument.wordprocessingml.document",)
    enabled_by_default = True

    def load(self, source: LoaderInput, settings: PluginSettings) -> list[Element]:
        """Elements of ``source`` in document order: "title" and "heading" (from heading
        styles, ``metadata["level"]``), "paragraph", "list_item" and "table" (one per row,
        cells joined with " | ", the first row's cells in ``metadata["header"]``), each with
        its heading path as ``section``. Headers, footers, comments and text boxes are not
        read.

        Raises ``ValueError`` for encrypted (password-protected), legacy .doc, corrupt or
        non-Word files.
        """
        check_ooxml(source.data, source.filename, kind=".docx", legacy=".doc", application="Word")
        try:
            document = docx.Document(io.BytesIO(source.data))
        except Exception as error:
            # python-docx says "content type is ...presentationml..." for a renamed .pptx, a
            # KeyError for a missing part: either way, not a Word document it can read.
            raise ValueError(
                f"{source.filename} is not a readable .docx (Word) file: {error}"
            ) from error
        blocks = _blocks(document.element.body, document)
        # Many documents set headings by hand (bold, capitals) instead of with heading
        # styles; only in a document with no heading style are those taken for headings.
        styled = any(
            isinstance(block, Paragraph) and _heading_level(block) is not None for block in blocks
        )
        reader = _Reader(infer_headings=not styled)
        for block in blocks:
            if isinstance(block, Paragraph):
                reader.paragraph(block)
            else:
                reader.table(block)
        return reader.elements
