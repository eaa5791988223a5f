"""Images as documents: their text recognised by OCR (``_ocr``), page by page for a
multi-page TIFF. An image has no text layer, so the parser setting "text layer only"
refuses it rather than storing an empty document."""

import io
import logging
import warnings

from plugins.base import Element, Loader, LoaderInput
from plugins.loaders._ocr import OcrSettings, OcrTimeout, recognize

logger = logging.getLogger(__name__)


class ImageSettings(OcrSettings):
    """The image loader's settings: OCR's bounds."""


class ImageLoader(Loader):
    """PNG, JPEG, BMP, TIFF (every page) and WebP images, read by OCR (Chinese and English)."""

    display_name = "Images (OCR)"
    description = (
        "Recognises the text of images (PNG, JPEG, BMP, TIFF with every page, WebP) with "
        "offline OCR, Chinese and English; chunks carry ocr: true and the OCR confidence."
    )
    file_extensions = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
    media_types = ("image/png", "image/jpeg", "image/bmp", "image/tiff", "image/webp")
    enabled_by_default = True
    Settings = ImageSettings

    def load(self, source: LoaderInput, settings: ImageSettings) -> list[Element]:
        """One "text" element per page with recognised text, with metadata ``ocr`` (true)
        and ``ocr_confidence`` (0 to 1), and ``page`` when the image has several pages.

        Raises ``ValueError`` for a file that is not a readable image, and when the parser
        is "text" (an image has no text layer). A page that fails or runs out of time is
        named in the warnings; if every page fails, ``ValueError``.
        """
        if source.parser == "text":
            raise ValueError(
                f"{source.filename} is an image: it has no text layer, so the parser "
                "'text layer only' finds nothing. Upload it with the parser 'automatic' or "
                "'OCR every page'."
            )
        image = _open(source)
        pages = getattr(image, "n_frames", 1)
        total = min(pages, settings.ocr_max_pages)
        if pages > total:
            source.warn(
                f"only the first {total} of {pages} pages were read (the image loader's "
                f"ocr_max_pages setting)"
            )
        elements: list[Element] = []
        failures: list[str] = []
        for number in range(1, total + 1):
            try:
                image.seek(number - 1)
                page = recognize(image.convert("RGB"), time_limit=settings.ocr_page_seconds)
            except OcrTimeout:
                failures.append(
                    f"{_named(number, pages)}OCR took longer than "
                    f"{settings.ocr_page_seconds:g} s and was stopped"
                )
                source.warn(failures[-1])
            except Exception as error:  # one unreadable frame must not cost the others
                logger.warning("%s: OCR of page %d failed: %s", source.filename, number, error)
                failures.append(f"{_named(number, pages)}could not be read ({error})")
                source.warn(failures[-1])
            else:
                if page.text:
                    elements.append(
                        Element(
                            type="text",
                            text=page.text,
                            page=number if pages > 1 else None,
                            metadata={"ocr": True, "ocr_confidence": page.confidence},
                        )
                    )
            source.report_progress(number, total)
        if len(failures) == total:
            raise ValueError(
                f"{source.filename}: OCR could not read any page of the image ({failures[0]})"
            )
        return elements


def _named(number: int, pages: int) -> str:
    return f"page {number}: " if pages > 1 else "the image: "


def _open(source: LoaderInput):  # -> PIL.Image.Image
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            # Pillow warns, then raises, on pixel counts that look like a decompression
            # bomb: the warning level is treated as the error here too.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(source.data))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ValueError(
            f"{source.filename} is too large an image to read (more than "
            f"{Image.MAX_IMAGE_PIXELS:,} pixels); scale it down and upload it again"
        ) from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise ValueError(
            f"{source.filename} is not a readable image: it may be truncated or corrupt ({error})"
        ) from None
    return image
