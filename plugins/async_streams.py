"""Closing async streams deterministically.

An async generator left unfinished is closed only when the event loop collects it, later
and at no defined point; a stream that holds an upstream connection must be closed when
its consumer stops, so every layer that wraps a stream closes what it wraps."""

from collections.abc import AsyncIterator
from typing import Any


async def aclose(stream: AsyncIterator[Any]) -> None:
    """Close ``stream`` if it can be closed (an async generator; a plain iterator cannot)."""
    close = getattr(stream, "aclose", None)
    if close is not None:
        await close()
