"""A loader for e-mail messages saved as ``.eml`` files (RFC 5322 / MIME).

The standard library's ``email`` package does the parsing and the transfer decoding
(base64, quoted-printable); this module picks the body (plain text preferred, HTML turned
into text otherwise), decodes it with its declared charset, and splits it into paragraphs.
Attachments are listed by file name, not read.
"""

from __future__ import annotations

import re
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any, cast

from pydantic import Field

from plugins.base import Element, Loader, LoaderInput, PluginSettings

# A mail must carry at least one of these to be taken for one: a text file that happens
# to start with "Note: ..." is not an e-mail.
_MAIL_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "received",
        "return-path",
        "sender",
        "reply-to",
        "in-reply-to",
    }
)

# Charsets mail clients declare for text that is really in a wider superset: GB2312 mail
# routinely holds GBK characters, and "us-ascii" mail 8-bit UTF-8.
_WIDER_CHARSETS = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "cp936": "gb18030",
    "us-ascii": "utf-8",
    "ascii": "utf-8",
}

_BLANK_LINES = re.compile(r"\n[ \t]*\n")


class EmlSettings(PluginSettings):
    """Per-workspace settings of the e-mail loader."""

    include_headers: bool = Field(
        True,
        description="Add an element with the From, To and Date headers before the body.",
    )


class _HtmlText(HTMLParser):
    """Collects the readable text of an HTML document: script and style dropped, block
    elements separated by blank lines, line breaks kept, other whitespace collapsed."""

    _SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript"})
    _BLOCKS = frozenset(
        {
            "p",
            "div",
            "section",
            "article",
            "header",
            "footer",
            "blockquote",
            "pre",
            "table",
            "tr",
            "ul",
            "ol",
            "li",
            "dl",
            "dt",
            "dd",
            "h1",
            "h2",
            "h3",
            "h4",
            "h5",
            "h6",
            "hr",
        }
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIPPED:
            self._skipping += 1
        elif tag == "br":
            self._parts.append("\n")
        elif tag in self._BLOCKS:
            self._parts.append("\n\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self._parts.append("\n")
        elif tag in self._BLOCKS:
            self._parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIPPED:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCKS:
            self._parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self._parts.append(re.sub(r"\s+", " ", data))

    def text(self) -> str:
        """The text collected so far, each line stripped."""
        lines = "".join(self._parts).split("\n")
        return "\n".join(line.strip() for line in lines)


def html_to_text(html: str) -> str:
    """The readable text of ``html``, paragraphs separated by blank lines."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    return parser.text()


def _raw_header(message: EmailMessage, name: str) -> str:
    """A header as written, encoded words decoded, bytes that are not text replaced."""
    raw = next((value for key, value in message.raw_items() if key.lower() == name), "")
    try:
        text = str(make_header(decode_header(raw)))
    except Exception:  # a broken encoded word: keep the text as written
        text = raw
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _header(message: EmailMessage, name: str) -> str:
    """A header's decoded value, whitespace collapsed; "" when absent.

    A header too malformed to parse (an address like ``<<<@@>>``) is given as written
    rather than as what the parser salvaged from it, and never loses the whole mail.
    """
    try:
        value = message.get(name)
        text = str(value) if value is not None else ""
        if value is not None and getattr(value, "defects", None):
            text = _raw_header(message, name)
    except Exception:
        text = _raw_header(message, name)
    return " ".join(text.split())


def _date(message: EmailMessage) -> str:
    """The Date header in ISO 8601 when it parses, as written otherwise."""
    try:
        parsed = message.get("date")
        moment = getattr(parsed, "datetime", None)
    except Exception:
        moment = None
    return moment.isoformat() if moment is not None else _header(message, "date")


def _text_of(part: EmailMessage) -> str:
    """A text part's content, decoded with its declared charset (widened where mail
    clients habitually under-declare), undecodable bytes replaced rather than fatal."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "utf-8").lower()
    charset = _WIDER_CHARSETS.get(charset, charset)
    try:
        return payload.decode(charset)
    except LookupError:  # a charset Python does not know
        return payload.decode("utf-8", errors="replace")
    except UnicodeDecodeError:
        return payload.decode(charset, errors="replace")


def _paragraphs(text: str) -> list[str]:
    """``text`` split at blank lines, each paragraph stripped, empty ones dropped."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return [chunk.strip() for chunk in _BLANK_LINES.split(text) if chunk.strip()]


def _attachments(message: EmailMessage, body: EmailMessage | None) -> list[str]:
    """The file names of the message's parts other than its body, in order."""
    names = []
    for part in message.walk():
        if part is body or part.is_multipart():
            continue
        filename = part.get_filename()
        if filename:
            names.append(filename)
    return names


class EmlLoader(Loader):
    """Reads ``.eml`` files: the subject as a title, optionally the From/To/Date headers,
    then the body's paragraphs."""

    display_name = "E-mail (.eml)"
    description = (
        "Reads e-mail messages saved as .eml: the subject, sender, recipients and date, and "
        "the body text (HTML-only mail is converted to text). Attachments are listed by "
        "name, not read."
    )
    file_extensions = (".eml",)
    media_types = ("message/rfc822",)
    Settings = EmlSettings
    enabled_by_default = False

    def load(self, source: LoaderInput, settings: EmlSettings) -> list[Element]:
        """Parse ``source`` as an e-mail and return its elements in reading order.

        Raises ``ValueError`` when the file is empty or has no e-mail headers.
        """
        message = self._parse(source)
        subject = _header(message, "subject")
        sender = _header(message, "from")
        metadata: dict[str, Any] = {"subject": subject, "from": sender, "date": _date(message)}
        body = message.get_body(preferencelist=("plain", "html"))

        elements: list[Element] = []
        if subject:
            elements.append(
                Element(
                    type="title",
                    text=subject,
                    metadata={**metadata, "attachments": _attachments(message, body)},
                )
            )
        include_headers = getattr(settings, "include_headers", EmlSettings().include_headers)
        if include_headers:
            lines = [
                f"{label}: {value}"
                for label, value in (
                    ("From", sender),
                    ("To", _header(message, "to")),
                    ("Date", _header(message, "date")),
                )
                if value
            ]
            if lines:
                elements.append(
                    Element(type="text", text="\n".join(lines), metadata=dict(metadata))
                )
        if body is not None:
            text = _text_of(body)
            if body.get_content_subtype() == "html":
                text = html_to_text(text)
            elements.extend(
                Element(type="paragraph", text=paragraph, metadata=dict(metadata))
                for paragraph in _paragraphs(text)
            )
        return elements

    @staticmethod
    def _parse(source: LoaderInput) -> EmailMessage:
        """The parsed message, or ``ValueError`` if ``source`` is not an e-mail."""
        if not source.data.strip():
            raise ValueError(f"{source.filename} is empty, not an e-mail message")
        message = BytesParser(policy=policy.default).parsebytes(source.data)
        names = {key.lower() for key in message}  # iterating a message gives its header names
        if not names & _MAIL_HEADERS:
            raise ValueError(
                f"{source.filename} is not an e-mail message: it has no From, To, Subject, "
                "Date or Message-ID header"
            )
        return cast(EmailMessage, message)  # policy.default builds EmailMessage objects
