"""Which loader plugin parses an uploaded file: by its extension, else by its content.

Only loaders the workspace may use count (installed, loaded, enabled there). A file no
loader takes is refused at upload with the list of what is supported.
"""

from dataclasses import dataclass
from pathlib import PurePosixPath

from apps.accounts.models import Workspace
from apps.plugins.selectors import usable_loaders
from kernel.errors import ApiError

# Content signatures, for files whose name says nothing useful.
_ZIP = b"PK\x03\x04"
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", ".pdf"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", ""),  # OLE: an encrypted Office file, or old .doc/.xls
    (b"\x89PNG\r\n\x1a\n", ".png"),
    (b"\xff\xd8\xff", ".jpg"),
    (b"II*\x00", ".tiff"),
    (b"MM\x00*", ".tiff"),
)


class UnsupportedFileType(ApiError):
    status = 400
    code = "UnsupportedFileType"


@dataclass(frozen=True)
class LoaderChoice:
    plugin_id: str
    extension: str


def _sniffed_extension(data: bytes) -> str:
    head = data[:2048]
    for signature, extension in _SIGNATURES:
        if head.startswith(signature):
            return extension
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return ".webp"
    if head.startswith(b"BM") and head[6:10] == b"\0\0\0\0":  # "BM", size, reserved zeros
        return ".bmp"
    if head.startswith(_ZIP):
        if b"word/" in data[:65536]:
            return ".docx"
        # Checked before "xl/", a shorter pattern that a deck's compressed parts can hold
        # by chance.
        if b"ppt/" in data[:65536]:
            return ".pptx"
        if b"xl/" in data[:65536]:
            return ".xlsx"
        return ""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<!doctype html", b"<html")):
        return ".html"
    return ""


def supported_extensions(workspace: Workspace) -> dict[str, str]:
    """Extension → loader plugin id, for the loaders this workspace may use."""
    found: dict[str, str] = {}
    for entry in sorted(usable_loaders(workspace), key=lambda e: e.plugin.plugin_id):
        for extension in entry.plugin.manifest.get("file_extensions", []):
            found.setdefault(extension, entry.plugin.plugin_id)
    return found


def choose_loader(loaders: dict[str, str], filename: str, data: bytes) -> LoaderChoice:
    """The loader for this file among ``loaders`` (``supported_extensions``: read once per
    upload, not per file), or ``UnsupportedFileType`` naming the supported types."""
    extension = PurePosixPath(filename).suffix.lower()
    if extension not in loaders:
        extension = _sniffed_extension(data)
    if extension in loaders:
        return LoaderChoice(loaders[extension], extension)
    raise UnsupportedFileType(
        f"'{filename}': this file type is not supported. Supported: "
        + ", ".join(sorted(loaders))
        + "."
    )
