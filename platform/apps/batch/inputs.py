"""Reading batch input files: the limits checked at upload, and the lines a batch runs.

Files are read in pieces and split on newlines here, never loaded whole: an input may be
500 MB. Blank lines are skipped but counted, so line numbers match an editor's.
"""

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import Storage, storages

from apps.batch.lines import BatchLine
from kernel.errors import ApiError, InvalidParameter

READ_SIZE = 1024 * 1024


def batch_storage() -> Storage:
    return storages["batch_files"]


class FileTooLarge(ApiError):
    status = 413
    code = "file_too_large"


class LineTooLong(Exception):
    def __init__(self, line: int) -> None:
        super().__init__(line)
        self.line = line


def split_lines(pieces: Iterable[bytes], max_line_bytes: int) -> Iterator[tuple[int, bytes]]:
    """``(line number, content)`` of each non-blank line in a stream of byte pieces;
    ``LineTooLong`` as soon as a line passes ``max_line_bytes`` (before reading it all)."""
    number = 0
    pending = b""
    for piece in pieces:
        pending += piece
        *whole, pending = pending.split(b"\n")
        for raw in whole:
            number += 1
            if len(raw) > max_line_bytes:
                raise LineTooLong(number)
            if raw.strip():
                yield number, raw
        if len(pending) > max_line_bytes:
            raise LineTooLong(number + 1)
    if pending.strip():
        yield number + 1, pending


@dataclass(frozen=True)
class Scanned:
    bytes: int
    line_count: int


def scan_upload(name: str, pieces: Iterable[bytes], size: int) -> Scanned:
    """Check an upload against Bailian's limits (file size, lines, line length) and count
    its lines; ``FileTooLarge`` or ``InvalidParameter`` name the limit it passes."""
    max_bytes = settings.BATCH_FILE_MAX_BYTES
    if size > max_bytes:
        raise FileTooLarge(
            f"'{name}' is {size:,} bytes; a batch input file may have at most {max_bytes:,}."
        )
    max_lines = settings.BATCH_FILE_MAX_LINES
    count = 0
    try:
        for number, _ in split_lines(pieces, settings.BATCH_LINE_MAX_BYTES):
            count += 1
            if count > max_lines:
                raise InvalidParameter(
                    f"'{name}' has more than {max_lines:,} requests (line {number}); "
                    "split it into several batches.",
                    code="too_many_lines",
                    param="file",
                )
    except LineTooLong as exc:
        raise InvalidParameter(
            f"Line {exc.line} of '{name}' is longer than "
            f"{settings.BATCH_LINE_MAX_BYTES // (1024 * 1024)} MB.",
            code="line_too_long",
            param="file",
        ) from None
    if count == 0:
        raise InvalidParameter(f"'{name}' has no requests.", code="empty_file", param="file")
    return Scanned(bytes=size, line_count=count)


def stored_lines(storage_key: str) -> Iterator[tuple[int, bytes]]:
    """The non-blank lines of a stored file, with their line numbers."""
    with batch_storage().open(storage_key, "rb") as stored:
        yield from split_lines(
            iter(lambda: stored.read(READ_SIZE), b""), settings.BATCH_LINE_MAX_BYTES
        )


def parsed_lines(storage_key: str, skip: set[int] = frozenset()) -> Iterator[BatchLine]:
    """The requests of a validated input file, less the lines in ``skip`` (done already)."""
    for number, raw in stored_lines(storage_key):
        if number in skip:
            continue
        request = json.loads(raw)
        yield BatchLine(line=number, custom_id=request["custom_id"], body=request["body"])
