"""Streaming a chat answer in a wire format, from a blocking or an async stream alike.

A format's ``Framer`` says which SSE frames open the stream, which each chunk becomes,
which close it, and what a failure half-way becomes (the status line is long gone). The
two drivers run one framer over either kind of stream, so each format is written once.
"""

from collections.abc import AsyncIterator, Iterator
from typing import Protocol

from kernel.errors import ApiError
from plugins.base import ChatChunk, UpstreamError


class Framer(Protocol):
    def opening(self) -> list[str]:
        """Frames sent before the first chunk."""

    def frames(self, chunk: ChatChunk) -> list[str]:
        """The frames ``chunk`` becomes (none for an empty one)."""

    def failure(self, exc: ApiError | UpstreamError) -> str:
        """The frame that reports a failure half-way."""

    def closing(self) -> list[str]:
        """Frames sent after the last chunk, or after a failure."""


def framed(chunks: Iterator[ChatChunk], framer: Framer) -> Iterator[str]:
    """``framer``'s frames for a blocking stream."""
    yield from framer.opening()
    try:
        for chunk in chunks:
            yield from framer.frames(chunk)
    except (UpstreamError, ApiError) as exc:
        yield framer.failure(exc)
    yield from framer.closing()


async def aframed(chunks: AsyncIterator[ChatChunk], framer: Framer) -> AsyncIterator[str]:
    """``framer``'s frames for an async stream."""
    for frame in framer.opening():
        yield frame
    try:
        async for chunk in chunks:
            for frame in framer.frames(chunk):
                yield frame
    except (UpstreamError, ApiError) as exc:
        yield framer.failure(exc)
    for frame in framer.closing():
        yield frame
