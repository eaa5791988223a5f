"""PDF files: the text of each page, with its page number, extracted by pypdf, and the tables
of pages with ruling lines, found by pdfplumber, as rows under their header.

pypdf's "plain" extraction follows the order text is drawn in, which in the PDFs that
typesetters and word processors write is column by column. Its "layout" mode places text where
it sits on the page, which puts a two-column page's columns side by side on each line, so it
is not used. pdfplumber's page text is not used either: it orders words by their line on the
page, which mixes the columns of the same two-column page.

For each page (``PdfLoader.load``): ``_page_text`` reads the text layer with the position of
each piece of text; pdfplumber looks for ruled tables only on pages that draw lines
(``_pdf_tables``); the page's text is the text outside its tables, cleaned (``_pdf_text``:
ligatures, spacing). Then, over the whole document, running headers and footers are dropped
and each page's lines are joined into paragraphs (``_pdf_text`` documents the rules). A page
gives its "text" element, then one "table" element per table row, tables top to bottom.
"""

import io
import logging
import time
from dataclasses import dataclass, field

from pypdf import PageObject, PasswordType, PdfReader

from plugins.base import Element, Loader, LoaderInput
from plugins.loaders._ocr import OcrPage
from plugins.loaders._pdf_recognition import PageRecognition, PdfSettings
from plugins.loaders._pdf_tables import MAX_PATHS, PageTables, Table
from plugins.loaders._pdf_text import clean, drop_repeated_lines, hyphenated_words, join_lines

logger = logging.getLogger(__name__)

#: Rules shorter than this (points) are not a table's: glyph-sized marks, dots.
_MIN_RULE = 2.0
#: A page holds a ruled table only if it draws at least this many horizontal and this many
#: vertical rules (a 2 x 2 grid has 3 of each; a rectangle counts 2 of each): pdfplumber,
#: which parses the whole page again, is not asked about the others.
_MIN_RULES = 3
#: Seconds of a document spent looking for tables; the pages after it are read without.
#: pdfplumber takes up to a second for a page full of text, so this bounds a long file.
_TABLE_BUDGET_S = 120.0
#: A piece of text whose baseline start lies within this many points of a table's box is in it.
_TABLE_MARGIN = 1.0


def _open(source: LoaderInput) -> PdfReader:
    """A reader for ``source``, decrypted if an empty password opens it."""
    if b"%PDF-" not in source.data[:1024]:
        raise ValueError(f"{source.filename} is not a PDF file (no %PDF header)")
    try:
        # Non-strict: real PDFs break the specification in small ways readers tolerate.
        reader = PdfReader(io.BytesIO(source.data), strict=False)
    except Exception as error:
        raise ValueError(
            f"{source.filename} is not a readable PDF: it may be truncated or corrupt ({error})"
        ) from error
    if reader.is_encrypted:
        # "Copy protection" encrypts with an empty user password: any reader opens it.
        try:
            opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
        except Exception as error:
            raise ValueError(
                f"{source.filename} is encrypted / password protected with a method that "
                f"cannot be read ({error}); save an unprotected copy and upload that"
            ) from error
        if not opened:
            raise ValueError(
                f"{source.filename} is encrypted / password protected; remove the password "
                "(save an unprotected copy) and upload it again"
            )
    return reader


@dataclass
class TextLayer:
    """A page's text layer as pypdf reads it: the pieces of text in drawing order, each with
    where it starts (x, y of its baseline in PDF user space), and how many horizontal and
    vertical rules (lines, sides of rectangles) the page draws."""

    pieces: list[tuple[str, float, float]] = field(default_factory=list)
    horizontal: int = 0
    vertical: int = 0

    def may_hold_table(self) -> bool:
        """Whether the page draws enough rules and text for a ruled table."""
        rules = self.horizontal + self.vertical
        return (
            bool(self.pieces)
            and min(self.horizontal, self.vertical) >= _MIN_RULES
            and (rules <= MAX_PATHS)
        )

    def add_rule(self, width: float, height: float) -> None:
        """Count a line or rectangle ``width`` x ``height`` points: a rule, a box or nothing."""
        if width >= _MIN_RULE and height >= _MIN_RULE:
            self.horizontal += 2
            self.vertical += 2
        elif width >= _MIN_RULE:
            self.horizontal += 1
        elif height >= _MIN_RULE:
            self.vertical += 1

    def text(self, outside: list[tuple[float, float, float, float]] | None = None) -> str:
        """The page's text (pypdf's plain extraction), without the pieces that start inside
        one of the boxes ``outside`` (x0, y0, x1, y1); their line breaks are kept."""
        if not outside:
            return "".join(piece for piece, _, _ in self.pieces)
        kept = []
        for piece, x, y in self.pieces:
            inside = any(
                x0 - _TABLE_MARGIN <= x <= x1 + _TABLE_MARGIN
                and y0 - _TABLE_MARGIN <= y <= y1 + _TABLE_MARGIN
                for x0, y0, x1, y1 in outside
            )
            kept.append(("\n" if "\n" in piece else "") if inside else piece)
        return "".join(kept)


def _page_text(page: PageObject) -> TextLayer:
    """The text layer of ``page``: the one place a page's text is read (a page without one,
    a scan, gives an empty layer). Raises whatever pypdf raises for a broken page."""
    layer = TextLayer()
    pen: list[float] = []  # where the current path is, for the segment a "l" draws

    def on_text(text: str, cm: list[float], tm: list[float], *_: object) -> None:
        # Where the piece starts: the text matrix's origin through the current transform.
        x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
        y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
        layer.pieces.append((text, x, y))

    def on_operator(operator: bytes, operands: list[object], cm: list[float], *_: object) -> None:
        # Sizes in page units (the transform's scale); rotated rules are not told apart.
        numbers = [float(v) for v in operands if isinstance(v, int | float)]
        if operator == b"re" and len(numbers) == 4:
            layer.add_rule(abs(numbers[2] * cm[0]), abs(numbers[3] * cm[3]))
        elif operator == b"m" and len(numbers) == 2:
            pen[:] = numbers
        elif operator == b"l" and len(numbers) == 2 and pen:
            layer.add_rule(abs((numbers[0] - pen[0]) * cm[0]), abs((numbers[1] - pen[1]) * cm[3]))
            pen[:] = numbers

    # The pieces joined are exactly what extract_text() returns (checked on the realdocs).
    page.extract_text(visitor_text=on_text, visitor_operand_before=on_operator)
    return layer


def _same_frame(page: PageObject) -> bool:
    """Whether pdfplumber's table boxes and pypdf's text positions agree on ``page``: it is
    not rotated and its media box starts at the origin, as almost every page does."""
    box = page.mediabox
    return page.rotation % 360 == 0 and float(box.left) == 0 and float(box.bottom) == 0


@dataclass
class _PageContent:
    number: int
    text: str
    tables: list[Table]
    #: The page read by OCR instead of its text layer (``_pdf_recognition``).
    recognised: OcrPage | None = None


class PdfLoader(Loader):
    """PDF files, one text element per page that has text, then its tables' rows."""

    display_name = "PDF"
    description = (
        "Extracts the text of PDF files page by page, with page numbers, paragraphs joined and "
        "running headers and footers dropped; tables with ruling lines become rows under their "
        "header. Scanned pages (no text layer, or an unreadable one) are read by offline OCR, "
        "Chinese and English, as the parser setting says; password-protected files are refused."
    )
    file_extensions = (".pdf",)
    media_types = ("application/pdf",)
    enabled_by_default = True
    Settings = PdfSettings

    def load(self, source: LoaderInput, settings: PdfSettings) -> list[Element]:
        """Per page with text, in page order, with ``page`` its 1-based number: one "text"
        element (the text outside its tables), then one "table" element per data row of each
        ruled table, top to bottom (``metadata["table"]``, 1-based on the page, and
        ``["row"]``, ``["header"]`` as CSV rows have). Pages without text give no element.
        A page read by OCR (``source.parser``; ``_pdf_recognition``) gives one "text" element
        of its recognised lines, with ``metadata`` ``ocr`` (true) and ``ocr_confidence``.

        Raises ``ValueError`` for a file that is not a PDF, is corrupt, or needs a password.
        """
        reader = _open(source)
        try:
            pages = list(reader.pages)
        except Exception as error:
            raise ValueError(
                f"{source.filename} is not a readable PDF: its page tree is broken ({error})"
            ) from error
        contents: list[_PageContent] = []
        failed: list[int] = []
        late: list[int] = []  # pages with rules read after the time for tables ran out
        table_deadline = time.monotonic() + _TABLE_BUDGET_S
        with (
            PageTables(source.data, source.filename) as finder,
            PageRecognition(source, settings) as recognition,
        ):
            for number, page in enumerate(pages, start=1):
                try:
                    layer = _page_text(page)
                except Exception as error:
                    # One broken page (a bad content stream or font) should not cost the others.
                    logger.warning("%s: no text from page %d: %s", source.filename, number, error)
                    failed.append(number)
                    continue
                tables: list[Table] = []
                if layer.may_hold_table() and time.monotonic() < table_deadline:
                    tables = finder.on_page(number)
                elif layer.may_hold_table() and number not in late:
                    late.append(number)
                # Where positions and boxes do not agree, the tables' text stays in the page's
                # text too: repeated, not lost.
                boxes = [table.bbox for table in tables] if _same_frame(page) else []
                text = clean(layer.text(boxes))
                recognised = recognition.page(number, text)
                if recognised is not None:
                    contents.append(_PageContent(number, "", [], recognised))
                else:
                    contents.append(_PageContent(number, text, tables))
                source.report_progress(number, len(pages))
            recognition.warn(_numbers)
        if failed and len(failed) == len(pages):
            raise ValueError(
                f"{source.filename} is not a readable PDF: no page's text could be extracted"
            )
        if failed:
            source.warn(f"{len(failed)} page(s) could not be read: {_numbers(failed)}")
        if late:
            source.warn(
                f"tables were not looked for on {len(late)} page(s) (time limit): "
                f"{_numbers(late)}; their text is kept"
            )
        texts, dropped = drop_repeated_lines([content.text for content in contents])
        if dropped:
            logger.info("%s: running headers/footers dropped: %s", source.filename, dropped)
        vocabulary = hyphenated_words(texts)
        elements: list[Element] = []
        for content, text in zip(contents, texts, strict=True):
            if content.recognised is not None:
                # OCR's lines are kept as read: a table's rows are lines too.
                if content.recognised.text:
                    elements.append(_recognised_element(content.number, content.recognised))
                continue
            text = join_lines(text, vocabulary)
            if text:
                elements.append(Element(type="text", text=text, page=content.number))
            for number, table in enumerate(content.tables, start=1):
                elements += table.elements(content.number, number)
        return elements


def _recognised_element(number: int, page: OcrPage) -> Element:
    return Element(
        type="text",
        text=page.text,
        page=number,
        metadata={"ocr": True, "ocr_confidence": page.confidence},
    )


def _numbers(pages: list[int]) -> str:
    """Page numbers for a message: "3, 7, 12" (the first ten, then how many more)."""
    shown = ", ".join(str(n) for n in pages[:10])
    return shown + (f" and {len(pages) - 10} more" if len(pages) > 10 else "")
