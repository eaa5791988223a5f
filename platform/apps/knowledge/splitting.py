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
import re
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from langchain_text_splitters import RecursiveCharacterTextSplitter

__all__ = ["split_at_separators"]


@functools.cache
def _splitter(
    groups: tuple[tuple[str, ...], ...], size: int, count: Callable[[str], int]
) -> RecursiveCharacterTextSplitter:
    # Imported here: the web process imports the chunker's settings, not the splitter, and
    # langchain-core takes about half a second to import.
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    class SplitOnly(RecursiveCharacterTextSplitter):
        """LangChain's recursion without its merge (its one hook for that is private)."""

        def _merge_splits(self, splits: Iterable[str], separator: str) -> list[str]:
            return list(splits)

    return SplitOnly(
        separators=["|".join(re.escape(sep) for sep in group) for group in groups],
        is_separator_regex=True,
        keep_separator="end",
        strip_whitespace=False,  # pieces tile the text: the chunker works on offsets
        chunk_size=size + 1,  # LangChain keeps a piece shorter than chunk_size
        chunk_overlap=0,
        length_function=count,
    )


def split_at_separators(
    text: str, groups: Sequence[tuple[str, ...]], size: int, count: Callable[[str], int]
) -> list[str]:
    """Consecutive pieces of ``text`` (together, exactly ``text``) of at most ``size`` by
    ``count``, cut at the strongest of ``groups`` (strongest first) that makes them fit; a
    piece no group splits small enough is returned whole, however long."""
    return _splitter(tuple(groups), size, count).split_text(text)
