"""Recursive splitting at separators, by langchain-text-splitters.

``split_at_separators`` cuts a text at every match of the strongest separator group it
holds, and each piece still too long at the next group, and so on
(``RecursiveCharacterTextSplitter`` with one regular expression per group, each piece
keeping the separator that ends it). What stays the chunker's (``chunking``): packing the
pieces into chunks at the best boundary, the overlap tails, exact counts, and cutting at
characters a piece that no separator splits. LangChain would pack too (greedily, sizes
summed), so its merge step is turned off here; with it on, pieces come pre-packed and
chunks lose their overlap (tests/knowledge_chunking). It has no character cut of its own
that counts tokens exactly: its last resort, one piece per character, sums per-character
counts (a base64 text came out in 40% more chunks, three times slower).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

__all__ = ["split_at_separators"]


@functools.cache
def _splitter(
    patterns: tuple[str, ...], size: int, count: Callable[[str], int], max_chars: int
) -> RecursiveCharacterTextSplitter:
    # Imported here: the web process imports the chunker's settings, not the splitter, and
    # langchain-core takes about half a second to import.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class SplitOnly(RecursiveCharacterTextSplitter):
        """LangChain's recursion without its merge (its one hook for that is private)."""

        def _merge_splits(self, splits: Iterable[str], separator: str) -> list[str]:
            return list(splits)

    def length(piece: str) -> int:
        # A piece longer than ``max_chars`` a token cannot fit: not counted (LangChain
        # measures every piece at every level, and long ones are the costly ones).
        return count(piece) if len(piece) <= size * max_chars else size + 1

    return SplitOnly(
        separators=list(patterns),
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=False,  # pieces tile the text: the chunker works on offsets
        chunk_size=size + 1,  # LangChain keeps a piece shorter than chunk_size
        chunk_overlap=0,
        length_function=length,
    )


def split_at_separators(
    text: str,
    patterns: Sequence[str],
    size: int,
    count: Callable[[str], int],
    *,
    max_chars_per_token: int,
) -> list[str]:
    """Consecutive pieces of ``text`` (together, exactly ``text``) of at most ``size`` by
    ``count``, cut at the strongest of the separator ``patterns`` (regular expressions,
    strongest first) that makes them fit; a piece no pattern splits small enough is
    returned whole, however long. A piece longer than ``size * max_chars_per_token``
    characters is taken as too long without counting it."""
    splitter = _splitter(tuple(patterns), size, count, max_chars_per_token)
    return splitter.split_text(text)
