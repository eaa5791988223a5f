"""OCR of a PDF's pages as the upload's parser says (``_pdf_ocr`` decides which pages,
``_ocr`` reads them), with the document's page cap and per-page time limit, and the
warnings a person needs: pages not read, and pages kept with a text layer that reads
poorly."""

from __future__ import annotations

import logging

from plugins.base import LoaderInput
from plugins.loaders._ocr import OcrPage, OcrSettings, OcrTimeout, recognize
from plugins.loaders._pdf_ocr import (
    SUSPECT_QUALITY,
    PdfPages,
    prefer_ocr,
    reads_poorly,
    text_quality,
)

logger = logging.getLogger(__name__)


class PdfSettings(OcrSettings):
    """The PDF loader's settings: OCR's bounds."""


class PageRecognition:
    """Per page: whether to read it by OCR, and its recognised text. Close it (or ``with``)."""

    def __init__(self, source: LoaderInput, settings: PdfSettings) -> None:
        self._source = source
        self._settings = settings
        self._pages: PdfPages | None = None
        self._unrenderable = False
        self._read = 0
        self._capped: list[int] = []
        self._poor: list[int] = []

    def __enter__(self) -> PageRecognition:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pages is not None:
            self._pages.close()

    def page(self, number: int, text_layer: str) -> OcrPage | None:
        """The recognised text that replaces page ``number``'s text layer, or None to keep
        the layer."""
        parser = self._source.parser
        if parser == "text" or self._unrenderable:
            return None
        if parser == "auto" and not (reads_poorly(text_layer) and self._has_image(number)):
            if text_layer and text_quality(text_layer) < SUSPECT_QUALITY:
                self._poor.append(number)  # garbled, but no image to read instead
            return None
        recognised = self._recognised(number)
        if recognised is None:
            return None
        if parser == "ocr" or prefer_ocr(text_layer, recognised.text):
            return recognised
        if text_layer.strip():
            self._poor.append(number)
        return None

    def warn(self, numbers: str) -> None:
        """Name the pages OCR did not read and the poor text layers kept; ``numbers``
        formats a list of page numbers."""
        if self._capped:
            self._source.warn(
                f"OCR stopped after {self._settings.ocr_max_pages} pages (the PDF loader's "
                f"ocr_max_pages setting); not read: pages {numbers(self._capped)}"
            )
        if self._poor:
            self._source.warn(
                f"the text layer reads poorly on pages {numbers(self._poor)} and was kept "
                "(OCR did not read it better, or the page has no image to read)"
            )

    def _has_image(self, number: int) -> bool:
        pages = self._rendered()
        return pages is not None and pages.has_image(number)

    def _rendered(self) -> PdfPages | None:
        if self._pages is None:
            try:
                self._pages = PdfPages(self._source.data)
            except Exception as error:  # PDFium refuses a file pypdf opened: no OCR, text kept
                logger.warning("%s: cannot render pages: %s", self._source.filename, error)
                self._source.warn(f"pages could not be rendered for OCR ({error})")
                self._unrenderable = True
                return None
        return self._pages

    def _recognised(self, number: int) -> OcrPage | None:
        pages = self._rendered()
        if pages is None:
            return None
        if self._read >= self._settings.ocr_max_pages:
            self._capped.append(number)
            return None
        self._read += 1
        try:
            return recognize(pages.image(number), time_limit=self._settings.ocr_page_seconds)
        except OcrTimeout:
            self._source.warn(
                f"page {number}: OCR took longer than {self._settings.ocr_page_seconds:g} s and "
                "was stopped"
            )
        except Exception as error:  # one page that cannot be rendered or read costs only itself
            logger.warning("%s: OCR of page %d failed: %s", self._source.filename, number, error)
            self._source.warn(f"page {number}: OCR could not read it ({error})")
        return None
