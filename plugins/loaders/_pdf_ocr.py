"""Which PDF pages to read by OCR, and their images, rendered with pypdfium2 (PDFium, in
its wheel).

A text layer is judged by ``text_quality``: the share of its tokens (runs between spaces)
that read as text: a word of letters, maybe with digits (``BM25``, ``GPT-3``; an
apostrophe, hyphen or dot inside), a number (digits with ``.,:/%-``, a currency sign), a
run holding CJK or Hangul (with the digits and punctuation that go with it), an e-mail
or web address; punctuation around a token is allowed. A layer laid
down by a poor OCR engine, or by fonts without a Unicode map, fails it: ``«POAH``,
``s*r;tiiR»``, ``3s«»teership``. Measured on the realdocs and understanding PDFs: ordinary
pages (English, Chinese, Korean, Thai, papers with formulas) score 0.967 to 1; the garbage
layer of ``pdf-with-ocr-text.pdf`` 0.92, since most of its tokens are words, misspelled.

The margin is too thin for a threshold alone, so under "auto" a page that draws an image
(a scan) is read by OCR when its layer has fewer than ``_MIN_CHARACTERS`` characters or
scores under ``SUSPECT_QUALITY``; the recognised text replaces the layer only when it
reads better by ``_BETTER_BY`` (``prefer_ocr``), else the layer is kept and the page is
named in the document's warnings as reading poorly. A page without an image keeps its
layer whatever it scores: there is nothing to recognise.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL.Image import Image

#: Pages are rendered so that their longer side is about this many pixels: what RapidOCR
#: works at (it shrinks larger images), about 170 dpi on A4.
_RENDER_SIDE = 2000
_MIN_CHARACTERS = 20
SUSPECT_QUALITY = 0.95
_BETTER_BY = 0.02

_CJK = "\u3000-\u303f\u3400-\u9fff\uac00-\ud7af\u1100-\u11ff\u3130-\u318f\uff00-\uffef"
_LETTER = "[^\\W\\d_]|[\u0300-\u036f\u0e00-\u0e7f]"  # letters, accents, Thai marks
_READABLE = re.compile(
    rf"""^(?:
        [{_CJK}\w.,:;!?%()\-/·]*[{_CJK}][{_CJK}\w.,:;!?%()\-/·]*     # CJK and Hangul runs
      | [$€£¥]?(?:{_LETTER}|\d)*(?:{_LETTER})(?:{_LETTER}|\d)*
        (?:['\u2019\-.](?:{_LETTER}|\d)+)*                                   # words, BM25, GPT-3
      | [$€£¥]?[+\-]?\d+(?:[.,:/\-]\d+)*[%MKkB]?(?:-\d+%?)?             # numbers, 9%-19%
      | [\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+                                 # e-mail
      | (?:https?://|www\.)\S+                                          # web
    )$""",
    re.VERBOSE,
)
# Punctuation that may surround a token without making it unreadable.
_AROUND = "\"'\u201c\u201d\u2018\u2019()[]{}<>.,;:!?·…-\u2013\u2014*•§#/"


def text_quality(text: str) -> float:
    """The share (0 to 1) of ``text``'s tokens that read as text; 1 for empty text."""
    tokens = [token.strip(_AROUND) for token in text.split()]
    tokens = [token for token in tokens if token]
    if not tokens:
        return 1.0
    return sum(bool(_READABLE.match(token)) for token in tokens) / len(tokens)


def reads_poorly(text: str) -> bool:
    """Whether a page's text layer is too short or too garbled to trust: under "auto", such
    a page is read by OCR if it draws an image (see the module docstring)."""
    visible = sum(not character.isspace() for character in text)
    return visible < _MIN_CHARACTERS or text_quality(text) < SUSPECT_QUALITY


def prefer_ocr(text_layer: str, recognised: str) -> bool:
    """Whether a suspect page's recognised text replaces its text layer."""
    if sum(not character.isspace() for character in text_layer) < _MIN_CHARACTERS:
        return bool(recognised.strip())
    return text_quality(recognised) >= text_quality(text_layer) + _BETTER_BY


class PdfPages:
    """A PDF opened with PDFium, for its pages' images. Close it (or use ``with``)."""

    def __init__(self, data: bytes) -> None:
        import pypdfium2

        self._document = pypdfium2.PdfDocument(data)

    def __enter__(self) -> PdfPages:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._document.close()

    def has_image(self, number: int) -> bool:
        """Whether 1-based page ``number`` draws an image (a scan, a photo)."""
        import pypdfium2.raw as pdfium_c

        page = self._document[number - 1]
        try:
            return any(
                True for _ in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,), max_depth=2)
            )
        finally:
            page.close()

    def image(self, number: int) -> Image:
        """1-based page ``number`` rendered, its longer side about 2,000 pixels."""
        page = self._document[number - 1]
        try:
            width, height = page.get_size()
            bitmap = page.render(scale=_RENDER_SIDE / max(width, height, 1))
            return bitmap.to_pil()
        finally:
            page.close()
