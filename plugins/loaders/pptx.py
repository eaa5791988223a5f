"""PowerPoint (.pptx) files: the text of each slide in reading order, via python-pptx.

A slide's title placeholder comes first and names the slide (``section``); the other shapes
follow top to bottom, then left to right, as a reader scans a slide. Text boxes and
placeholders give one element per paragraph (bullets as "list_item"), tables one element
per row with its header (as CSV and spreadsheet rows are), groups their shapes' text. Speaker
notes are read when the setting asks, and pictures are recognised (OCR) when the upload asks
for OCR. Charts, SmartArt, embedded objects and the masters' and layouts' own text (logos,
footers not placed on the slide) are not read."""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pptx
from pptx.enum.shapes import PP_PLACEHOLDER
from pptx.oxml.ns import qn
from pptx.shapes.base import BaseShape
from pptx.shapes.graphfrm import GraphicFrame
from pptx.shapes.group import GroupShape
from pptx.shapes.picture import Picture
from pptx.slide import Slide
from pptx.text.text import _Paragraph
from pydantic import Field

from plugins.base import Element, Loader, LoaderInput, PluginSettings
from plugins.loaders._office import check_ooxml
from plugins.loaders._tables import record_elements

if TYPE_CHECKING:
    from pptx.table import Table

_TITLES = frozenset(
    {PP_PLACEHOLDER.TITLE, PP_PLACEHOLDER.CENTER_TITLE, PP_PLACEHOLDER.VERTICAL_TITLE}
)
# Placeholders whose paragraphs are bulleted unless a paragraph says otherwise: the master's
# body style, which they inherit, sets bullets in every stock theme.
_BULLETED = frozenset({PP_PLACEHOLDER.BODY, PP_PLACEHOLDER.OBJECT, PP_PLACEHOLDER.VERTICAL_BODY})
# The slide number placeholder holds a field that repeats ``page``.
_SKIPPED = frozenset({PP_PLACEHOLDER.SLIDE_NUMBER})
# Pictures smaller than this (pixels, either side) hold nothing legible: spacers, bullets.
_MIN_IMAGE_SIDE = 8
_MAIN_PART = "ppt/presentation.xml"
# What a zip without a presentation is, when it is another Office document (renamed).
_OTHER_PACKAGES = (
    ("word/document.xml", "a Word document"),
    ("xl/workbook.xml", "an Excel workbook"),
)


class PptxSettings(PluginSettings):
    speaker_notes: bool = Field(
        default=False,
        description="Also read each slide's speaker notes (after the slide's own text).",
    )
    ocr_image_seconds: float = Field(
        default=60,
        ge=1,
        le=600,
        description=(
            "Seconds the text recognition (OCR) of one picture may take before it is given up "
            "(with a warning); pictures are read only when a document is uploaded with OCR."
        ),
    )


def _check_package(data: bytes, filename: str) -> None:
    """Raise ``ValueError`` unless ``data`` is a zip package holding a presentation."""
    check_ooxml(data, filename, kind=".pptx", legacy=".ppt", application="PowerPoint")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ValueError(
            f"{filename} is not a readable .pptx (PowerPoint) file: {error}"
        ) from error
    if _MAIN_PART not in names:
        what = next((what for part, what in _OTHER_PACKAGES if part in names), None)
        hint = f": it is {what}, not a presentation" if what else ""
        raise ValueError(
            f"{filename} is not a .pptx (PowerPoint) file (its zip package has no "
            f"{_MAIN_PART}){hint}"
        )


def _clean(text: str) -> str:
    """A paragraph's text: line breaks (``<a:br/>``, which python-pptx gives as vertical tabs)
    as newlines, runs of spaces as one, no blank lines."""
    lines = (re.sub(r"[ \t\u00a0]+", " ", line).strip() for line in text.split("\v"))
    return "\n".join(line for line in lines if line)


def _one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _placeholder_type(shape: BaseShape) -> PP_PLACEHOLDER | None:
    return shape.placeholder_format.type if shape.is_placeholder else None


def _position(shape: BaseShape) -> tuple[int, int, int]:
    """Sort key: top, then left; a shape without a position (a placeholder whose layout lost
    its frame) after the positioned ones, in the order the slide lists them."""
    top, left = shape.top, shape.left
    if top is None or left is None:
        return (1, 0, 0)
    return (0, top, left)


def _in_reading_order(shapes: Iterable[BaseShape]) -> list[BaseShape]:
    return sorted(shapes, key=_position)  # stable: ties keep the slide's order


def _is_bullet(paragraph: _Paragraph, placeholder: PP_PLACEHOLDER | None) -> bool:
    """A bullet or a numbered item: set on the paragraph itself (``a:buChar``, ``a:buAutoNum``)
    or inherited from a body placeholder, unless the paragraph turns it off (``a:buNone``)."""
    properties = paragraph._p.pPr
    if properties is not None:
        if properties.find(qn("a:buNone")) is not None:
            return False
        if (
            properties.find(qn("a:buChar")) is not None
            or properties.find(qn("a:buAutoNum")) is not None
        ):
            return True
    return placeholder in _BULLETED


def _table_rows(table: Table) -> list[list[str]]:
    """The cells' text, row by row; a cell covered by a merged one is blank, so that every
    value stays under its column."""
    return [
        ["" if cell.is_spanned else _one_line(cell.text) for cell in row.cells]
        for row in table.rows
    ]


class _SlideReader:
    """Turns one slide into elements; one instance per slide."""

    def __init__(self, number: int, title: str | None, images: _Images) -> None:
        self.number = number
        self.section = title
        self.images = images
        self.elements: list[Element] = []

    def emit(self, type_: str, text: str, **metadata: Any) -> None:
        self.elements.append(
            Element(
                type=type_,
                text=text,
                page=self.number,
                section=self.section,
                metadata={"slide": self.number, **metadata},
            )
        )

    def shapes(self, shapes: Iterable[BaseShape]) -> None:
        for shape in _in_reading_order(shapes):
            self.shape(shape)

    def shape(self, shape: BaseShape) -> None:
        placeholder = _placeholder_type(shape)
        if placeholder in _SKIPPED:
            return
        if isinstance(shape, GroupShape):
            self.shapes(shape.shapes)
        elif isinstance(shape, GraphicFrame) and shape.has_table:
            rows = record_elements(
                _table_rows(shape.table), section=self.section, metadata={"slide": self.number}
            )
            self.elements += [row.model_copy(update={"page": self.number}) for row in rows]
        elif isinstance(shape, Picture):
            self.picture(shape)
        elif shape.has_text_frame:
            for paragraph in shape.text_frame.paragraphs:
                if text := _clean(paragraph.text):
                    bullet = _is_bullet(paragraph, placeholder)
                    self.emit("list_item" if bullet else "paragraph", text)

    def picture(self, shape: Picture) -> None:
        if (text := self.images.read(shape, self.number)) is not None:
            recognised, confidence = text
            self.emit("text", recognised, ocr=True, ocr_confidence=confidence)

    def notes(self, slide: Slide) -> None:
        frame = slide.notes_slide.notes_text_frame if slide.has_notes_slide else None
        if frame is None:
            return
        for paragraph in frame.paragraphs:
            if text := _clean(paragraph.text):
                self.emit("paragraph", text, notes=True)


class _Images:
    """Recognises pictures' text when the upload asked for OCR, each distinct image once per
    file (a logo on every slide is read once), reporting those that fail."""

    def __init__(self, source: LoaderInput, seconds: float) -> None:
        self.source = source
        self.enabled = source.parser == "ocr"
        self.seconds = seconds
        self.results: dict[str, tuple[str, float] | str] = {}

    def read(self, shape: Picture, slide: int) -> tuple[str, float] | None:
        """The picture's text and confidence, or None when it has none or is not read."""
        if not self.enabled:
            return None
        try:
            image = shape.image
            key = image.sha1
        except Exception as error:
            # A picture whose image part is missing from the package.
            self.source.warn(f"slide {slide}: an image could not be read ({error})")
            return None
        if key not in self.results:
            self.results[key] = self._recognise(image.blob)
        result = self.results[key]
        if isinstance(result, str):
            self.source.warn(f"slide {slide}: an image could not be read ({result})")
            return None
        return result if result[0] else None

    def _recognise(self, blob: bytes) -> tuple[str, float] | str:
        """(text, confidence), or why the image could not be read."""
        from PIL import Image

        # Imported here: the OCR models load on first use, and only OCR uploads need them.
        from plugins.loaders._ocr import OcrTimeout, recognize

        try:
            with Image.open(io.BytesIO(blob)) as opened:
                opened.load()
                picture = opened.copy()
        except Exception as error:
            # EMF/WMF drawings among them: Pillow identifies but cannot render them here.
            return f"its format cannot be opened: {error}"
        if min(picture.size) < _MIN_IMAGE_SIDE:
            return "", 0.0
        try:
            page = recognize(picture, time_limit=self.seconds)
        except OcrTimeout:
            return f"text recognition took longer than {self.seconds:g} s"
        except Exception as error:
            return f"text recognition failed: {error}"
        return page.text.strip(), page.confidence


class PptxLoader(Loader):
    """PowerPoint .pptx decks, slide by slide: title, text, bullets, tables, groups."""

    display_name = "PowerPoint (.pptx)"
    description = (
        "Reads PowerPoint .pptx decks slide by slide, with the slide number on every piece: "
        "the title (as the section), text and bullets in reading order, tables one row at a "
        "time with their header, grouped shapes; speaker notes on request, and the text of "
        "pictures when a document is uploaded with OCR. Not legacy .ppt files."
    )
    file_extensions = (".pptx",)
    media_types = ("application/vnd.openxmlformats-officedocument.presentationml.presentation",)
    enabled_by_default = True
    Settings = PptxSettings

    def load(self, source: LoaderInput, settings: PluginSettings) -> list[Element]:
        """Elements of each slide in turn, each with ``page`` and ``metadata["slide"]`` the
        slide number and ``section`` the slide's title (none on a slide without one):
        "title" first, then "paragraph" and "list_item" (bulleted or numbered paragraphs)
        in reading order, "table" elements one per row after the first ("column: value;
        ...", with ``metadata["row"]`` and ``metadata["header"]``), and with
        ``source.parser == "ocr"`` a "text" element per picture with text
        (``metadata["ocr"]``, ``metadata["ocr_confidence"]``); speaker notes last, as
        "paragraph" elements with ``metadata["notes"]``, when ``speaker_notes`` is set.
        Progress is reported per slide; a picture or a slide that cannot be read is a
        warning, and the rest is kept.

        Raises ``ValueError`` for encrypted (password-protected), legacy .ppt, corrupt or
        non-PowerPoint files, and when no slide at all can be read.
        """
        # The platform passes PptxSettings; a bare PluginSettings (a caller with no
        # settings of its own) means the defaults.
        options = settings if isinstance(settings, PptxSettings) else PptxSettings()
        _check_package(source.data, source.filename)
        try:
            slides = list(pptx.Presentation(io.BytesIO(source.data)).slides)
        except Exception as error:
            # A broken part (XML cut off, a missing relationship target) or a package whose
            # main part is not a presentation's.
            raise ValueError(
                f"{source.filename} is not a readable .pptx (PowerPoint) file: {error}"
            ) from error
        images = _Images(source, options.ocr_image_seconds)
        elements: list[Element] = []
        failures: list[str] = []
        for number, slide in enumerate(slides, start=1):
            try:
                elements += self._slide(slide, number, images, notes=options.speaker_notes)
            except Exception as error:
                # A shape python-pptx cannot make sense of (a table without its grid, a
                # frame without its content) costs its slide, not the deck.
                failures.append(
                    f"slide {number}: its text could not be read ({type(error).__name__}: {error})"
                )
                source.warn(failures[-1])
            source.report_progress(number, len(slides))
        if failures and len(failures) == len(slides):
            raise ValueError(
                f"{source.filename} is not a readable .pptx (PowerPoint) file: {failures[0]}"
            )
        return elements

    @staticmethod
    def _slide(slide: Slide, number: int, images: _Images, *, notes: bool) -> list[Element]:
        # The first title placeholder names the slide and is read first, wherever it sits.
        title_shape = next((s for s in slide.shapes if _placeholder_type(s) in _TITLES), None)
        title = _one_line(title_shape.text_frame.text) if title_shape is not None else ""
        reader = _SlideReader(number, title or None, images)
        if title:
            reader.emit("title", title)
        title_id = title_shape.shape_id if title_shape is not None else None
        reader.shapes(shape for shape in slide.shapes if shape.shape_id != title_id)
        if notes:
            reader.notes(slide)
        return reader.elements
