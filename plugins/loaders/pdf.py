"""PDF files: the text of each page, with its page number, extracted by pypdf.

pypdf's "plain" extraction follows the order text is drawn in, which in the PDFs that
typesetters and word processors write is column by column. Its "layout" mode places text where
it sits on the page, which puts a two-column page's columns side by side on each line, so it
is not used."""

import io
import logging
import re

from pypdf import PasswordType, PdfReader

from plugins.base import Element, Loader, LoaderInput, PluginSettings

logger = logging.getLogger(__name__)

# Typographic ligatures (ﬁ, ﬂ, ...) that fonts map text to: spelled out so that search
# finds "efficient" in "eﬃcient". Nothing else is normalised (NFKC would also turn Chinese
# full-width punctuation into ASCII).
_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
)
# Control characters broken fonts produce; tab and newline are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def _clean(text: str) -> str:
    """Page text with ligatures spelled out, runs of spaces and tabs (some producers' word
    spacing) as one space, no trailing spaces and at most one blank line in a row."""
    text = re.sub(r"[ \t]{2,}|\t", " ", _CONTROL.sub("", text.translate(_LIGATURES)))
    text = re.sub(r"[ \u00a0]+\n", "\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


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


class PdfLoader(Loader):
    """PDF files, one text element per page that has text."""

    display_name = "PDF"
    description = (
        "Extracts the text of PDF files page by page, with page numbers. Scanned pages "
        "(images without a text layer) have no text; password-protected files are refused."
    )
    file_extensions = (".pdf",)
    media_types = ("application/pdf",)
    enabled_by_default = True

    def load(self, source: LoaderInput, settings: PluginSettings) -> list[Element]:
        """One "text" element per page with text, in page order, with ``page`` its 1-based
        page number. Pages without text (blank, scanned) give no element.

        Raises ``ValueError`` for a file that is not a PDF, is corrupt, or needs a password.
        """
        reader = _open(source)
        try:
            pages = list(reader.pages)
        except Exception as error:
            raise ValueError(
                f"{source.filename} is not a readable PDF: its page tree is broken ({error})"
            ) from error
        elements: list[Element] = []
        failed: list[int] = []
        for number, page in enumerate(pages, start=1):
            try:
                text = _clean(page.extract_text())
            except Exception as error:
                # One broken page (a bad content stream or font) should not cost the others.
                logger.warning("%s: no text from page %d: %s", source.filename, number, error)
                failed.append(number)
                continue
            if text:
                elements.append(Element(type="text", text=text, page=number))
        if failed and len(failed) == len(pages):
            raise ValueError(
                f"{source.filename} is not a readable PDF: no page's text could be extracted"
            )
        return elements
