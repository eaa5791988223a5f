"""Cutting a document's elements into chunks for embedding and retrieval.

``chunk_elements`` turns the ``Element``s a loader found into ``ChunkDraft``s of at most
``chunk_size`` tokens (cl100k, counted offline), in one of four modes:

- ``length``: all text, split recursively at the strongest boundary that fits: blank lines,
  lines, sentences (the full-width Chinese full stop, exclamation mark, question mark and
  semicolon, then Latin ". ", "! ", "? ", "; "), clauses (the full-width comma, then ", "),
  words, and characters as a last resort. Punctuation stays with the sentence it ends.
- ``heading``: one group per section (a heading starts one); a group too long is split by
  length.
- ``auto``: like ``heading``, but elements of a section are packed into chunks whole where
  they fit; tables and code blocks are never cut while they fit, and each tabular record
  (an element with ``metadata["row"]``, as from CSV or spreadsheet files) is a chunk of its
  own, so that each record can be retrieved.
- ``regex``: a new chunk at each match of ``separator_regex`` (the match starts it); pieces
  too long are split by length.

Consecutive chunks cut from one text share about ``chunk_overlap`` tokens: the next chunk
starts with the previous one's tail, cut at the strongest boundary that gives at least half
the overlap. The splitter works on offsets into one string and counts tokens per piece
(summing them), so it never re-counts a growing candidate; each chunk is then counted once
exactly, and ``ChunkDraft.token_count`` is that exact count. The cutting at separators is
langchain-text-splitters' (``splitting``); packing, overlap and the character cut are ours
(``splitting`` says why). On bench/chunking.py (20 MB) it gives the same chunks as our
own recursion did, for 5% to 13% more CPU a mode (medians of 5 to 11 fresh runs).
"""

from __future__ import annotations

import bisect
import functools
import re
from dataclasses import dataclass
from itertools import takewhile
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from apps.knowledge.splitting import split_at_separators
from kernel.tokens import count_tokens
from plugins.base import Element

__all__ = ["SEPARATORS", "SEPARATOR_GROUPS", "ChunkDraft", "ChunkingSettings", "chunk_elements"]

#: Split points, strongest first, in groups of equal strength: paragraphs, lines, sentence
#: ends, semicolons, commas, words. A text is split at every separator of the strongest group
#: it holds (so that a piece is one sentence, whichever mark ends it); each piece keeps the
#: separator that ends it.
SEPARATOR_GROUPS: tuple[tuple[str, ...], ...] = (
    ("\n\n",),
    ("\n",),
    ("。", "！", "？", ". ", "! ", "? "),
    ("；", "; "),
    ("，", ", "),
    (" ",),
)
SEPARATORS: tuple[str, ...] = tuple(sep for group in SEPARATOR_GROUPS for sep in group)
_SEPARATOR_PATTERNS = tuple("|".join(re.escape(sep) for sep in group) for group in SEPARATOR_GROUPS)
_GROUP_PATTERNS = tuple(re.compile(pattern) for pattern in _SEPARATOR_PATTERNS)
#: The strength of a cut between two characters, the weakest (groups count from 0).
_CHARACTER_LEVEL = len(SEPARATOR_GROUPS)
#: What joins two elements' texts; its level is 0, the strongest.
_JOINER = "\n\n"
#: The tokenizer: ``count_tokens`` maps every non-Qwen model name to cl100k_base.
_TOKENIZER_MODEL = "cl100k"
#: A text longer than chunk_size * this many characters is taken as too long without
#: counting it (no cl100k token is that long in ordinary text); at worst it is split finer
#: than needed and packed together again.
_MAX_CHARS_PER_TOKEN = 16
#: How far back (in characters per token of overlap) the tail of a chunk is looked for.
_TAIL_CHARS_PER_TOKEN = 10
#: Table and code elements are kept whole when they fit: packed as one piece.
_ATOMIC_TYPES = frozenset({"table", "code"})
_HEADING_TYPES = frozenset({"title", "heading"})
#: Element metadata not copied into chunks ("header": a tabular file's column names, which
#: the row's text already spells out).
_DROPPED_METADATA = frozenset({"header"})


class ChunkingSettings(BaseModel):
    """How a knowledge base cuts its documents into chunks (sizes in cl100k tokens)."""

    mode: Literal["auto", "length", "heading", "regex"] = "auto"
    chunk_size: int = Field(512, ge=32, le=8192, description="most tokens in a chunk")
    chunk_overlap: int = Field(
        64, ge=0, description="tokens consecutive chunks share; less than chunk_size"
    )
    separator_regex: str | None = Field(
        None, description='where mode="regex" starts a new chunk (Python regular expression)'
    )

    @field_validator("separator_regex")
    @classmethod
    def _check_regex(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value:
            raise ValueError("separator_regex is empty")
        try:
            pattern = re.compile(value)
        except re.error as error:
            raise ValueError(
                f"separator_regex is not a valid regular expression: {error}"
            ) from None
        # A pattern that matches nothing at all would cut the text at every character.
        if pattern.fullmatch("") is not None:
            raise ValueError("separator_regex matches the empty string")
        return value

    @model_validator(mode="after")
    def _check_consistent(self) -> ChunkingSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be less than chunk_size "
                f"({self.chunk_size})"
            )
        if self.mode == "regex" and not self.separator_regex:
            raise ValueError('mode "regex" needs a separator_regex')
        return self


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it is stored: its text, exact token count and metadata ("page": the
    first page its text comes from; "section": the heading path; "row": the tabular record;
    and the source element's other plain metadata, such as "sheet" or "line")."""

    text: str
    token_count: int
    metadata: dict[str, Any]


@functools.cache
def _count(text: str) -> int:
    return count_tokens(text, _TOKENIZER_MODEL)


# A piece is a span of the splitter's text that fits a chunk: (start, end, tokens).
_Piece = tuple[int, int, int]


class _Splitter:
    """Recursive splitting and packing over one string, by offsets."""

    def __init__(self, text: str, size: int, overlap: int) -> None:
        self.text = text
        self.size = size
        self.overlap = overlap
        # Pieces cut at characters leave room for the overlap, or no chunk would have any.
        self.hard_limit = max(size - overlap, size // 2)

    # --- splitting ------------------------------------------------------------------------

    def pieces(self, start: int, end: int, out: list[_Piece]) -> None:
        """Append to ``out`` pieces covering text[start:end], each at most chunk_size
        tokens, cut at the strongest separators that make them fit (``splitting``), or at
        characters where none does."""
        text = self.text
        if end - start <= self.size * _MAX_CHARS_PER_TOKEN:
            n = _count(text[start:end])
            if n <= self.size:
                out.append((start, end, n))
                return
        position = start
        pieces = split_at_separators(
            text[start:end],
            _SEPARATOR_PATTERNS,
            self.size,
            _count,
            max_chars_per_token=_MAX_CHARS_PER_TOKEN,
        )
        for piece in pieces:
            piece_end = position + len(piece)
            n = _count(piece)
            if n <= self.size:
                out.append((position, piece_end, n))
            else:
                self._cut_characters(position, piece_end, out)
            position = piece_end

    def _cut_characters(
        self, start: int, end: int, out: list[_Piece], limit: int | None = None
    ) -> None:
        """Last resort: the longest prefixes of at most ``limit`` (``hard_limit``) tokens."""
        text, limit = self.text, limit or self.hard_limit
        position = start
        while position < end:
            remaining = end - position
            if remaining <= limit * _MAX_CHARS_PER_TOKEN:
                n = _count(text[position:end])
                if n <= limit:
                    out.append((position, end, n))
                    return
            # Grow a window until it is too long, then bisect for the longest that fits.
            fits, fits_n, probe = 0, 0, min(remaining, limit * 4)
            while (n := _count(text[position : position + probe])) <= limit:
                fits, fits_n = probe, n
                if probe == remaining:
                    out.append((position, end, n))
                    return
                probe = min(remaining, probe * 2)
            too_long = probe
            while too_long - fits > 1:
                middle = (fits + too_long) // 2
                n = _count(text[position : position + middle])
                if n <= limit:
                    fits, fits_n = middle, n
                else:
                    too_long = middle
            if fits == 0:  # a single character over the limit: not with chunk_size >= 32
                fits, fits_n = 1, _count(text[position])
            out.append((position, position + fits, fits_n))
            position += fits

    # --- packing --------------------------------------------------------------------------

    def level(self, end: int) -> int:
        """The strength of a cut at ``end`` (0 strongest), from the separator before it."""
        for strength, group in enumerate(SEPARATOR_GROUPS):
            for separator in group:
                if self.text.endswith(separator, 0, end):
                    return strength
        return _CHARACTER_LEVEL

    def pack(self, pieces: list[_Piece]) -> list[tuple[int, int, int]]:
        """Chunks (start, end, exact tokens) of stripped text, packing consecutive pieces
        up to chunk_size tokens, each after the first starting with the previous one's
        tail."""
        chunks: list[tuple[int, int, int]] = []
        tail_start: int | None = None
        tail_n = 0
        total = 0  # estimated tokens of the chunk being filled, tail included
        first = index = 0
        while index < len(pieces):
            n = pieces[index][2]
            if index == first or total + n <= self.size:
                total += n
                index += 1
                continue
            cut = self._best_cut(pieces, first, index, tail_n)
            cut, emitted = self._emit(pieces, first, cut, tail_start, chunks)
            first = index = cut
            tail_start, tail_n = None, 0
            budget = min(self.overlap, self.size - pieces[cut][2])
            if emitted is not None and budget > 0:
                tail_start, tail_n = self._tail(emitted[0], emitted[1], budget)
            total = tail_n
        if first < len(pieces):
            self._emit(pieces, first, len(pieces), tail_start, chunks)
        return chunks

    def _best_cut(self, pieces: list[_Piece], first: int, stop: int, tail_n: int) -> int:
        """Where to end a full chunk (it takes pieces[first:cut]): at the strongest
        boundary among those that keep it at least half full, the latest of equals."""
        cumulative = [tail_n]
        for piece in pieces[first:stop]:
            cumulative.append(cumulative[-1] + piece[2])
        best, best_level = stop, self.level(pieces[stop - 1][1])
        half = self.size // 2
        for cut in range(stop - 1, first, -1):
            if best_level == 0 or cumulative[cut - first] < half:
                break
            level = self.level(pieces[cut - 1][1])
            if level < best_level:
                best, best_level = cut, level
        return best

    def _emit(
        self,
        pieces: list[_Piece],
        first: int,
        cut: int,
        tail_start: int | None,
        chunks: list[tuple[int, int, int]],
    ) -> tuple[int, tuple[int, int] | None]:
        """Append the chunk of pieces[first:cut] (after the tail) to ``chunks``, exactly
        counted; returns where it ended (``cut``, less when it gave pieces back) and its raw
        span, or None for the span when it held nothing but whitespace.

        Summed piece counts are an estimate (usually high: "我们" is one token, "我" and
        "们" two); should the exact count exceed chunk_size, the chunk gives back pieces.
        """
        text = self.text
        if not text[pieces[first][0] : pieces[cut - 1][1]].strip():
            return cut, None
        while True:
            start = pieces[first][0] if tail_start is None else tail_start
            end = pieces[cut - 1][1]
            span = self._stripped(start, end)
            if span[2] <= self.size:
                chunks.append(span)
                break
            if cut - first > 1:
                cut -= 1
            elif tail_start is not None:
                tail_start = None
            else:
                self._emit_cut(start, end, chunks)
                break
        return cut, (start, end)

    def _stripped(self, start: int, end: int) -> tuple[int, int, int]:
        """The span of text[start:end] without surrounding whitespace, and its tokens."""
        raw = self.text[start:end]
        stripped = raw.strip()
        offset = start + (len(raw) - len(raw.lstrip()))
        return offset, offset + len(stripped), _count(stripped)

    def _emit_cut(self, start: int, end: int, chunks: list[tuple[int, int, int]]) -> None:
        """One piece that fit raw but not stripped (stripping can change how the text
        tokenizes): cut at characters, tighter until every cut fits."""
        limit = self.hard_limit
        while True:
            cuts: list[_Piece] = []
            self._cut_characters(start, end, cuts, limit)
            spans = [self._stripped(s, e) for s, e, _ in cuts if self.text[s:e].strip()]
            if limit <= 1 or all(n <= self.size for _, _, n in spans):
                chunks.extend(spans)
                return
            limit = limit * 3 // 4

    def _tail(self, start: int, end: int, budget: int) -> tuple[int | None, int]:
        """The start and tokens of the longest suffix of text[start:end] of at most
        ``budget`` tokens that begins after a separator of the strongest group giving at
        least half of ``budget``; else the longest such suffix of any group; else one cut
        at a character."""
        text = self.text
        window = max(start + 1, end - budget * _TAIL_CHARS_PER_TOKEN)
        best: tuple[int, int] | None = None
        for pattern in _GROUP_PATTERNS:
            positions = [m.end() for m in pattern.finditer(text, window, end) if m.end() < end]
            if not positions:
                continue
            fit = self._first_fitting(positions, end, budget)
            if fit is None:
                continue
            if fit[1] * 2 >= budget:
                return self._nonblank(fit, end)
            if best is None or fit[1] > best[1]:
                best = fit
        if best is None:
            best = self._first_fitting(range(window, end), end, budget)
        return self._nonblank(best, end) if best else (None, 0)

    def _first_fitting(self, positions, end: int, budget: int) -> tuple[int, int] | None:
        """Bisect ``positions`` (ascending) for the first whose suffix fits ``budget``."""
        low, high, fit = 0, len(positions), None
        while low < high:
            middle = (low + high) // 2
            n = _count(self.text[positions[middle] : end])
            if n <= budget:
                fit, high = (positions[middle], n), middle
            else:
                low = middle + 1
        return fit

    def _nonblank(self, fit: tuple[int, int], end: int) -> tuple[int | None, int]:
        return fit if self.text[fit[0] : end].strip() else (None, 0)


# --- elements to text ---------------------------------------------------------------------


@dataclass(slots=True)
class _Span:
    start: int
    end: int
    element: Element


class _Joined:
    """Elements' stripped texts joined by blank lines, with each element's span."""

    def __init__(self, elements: list[Element]) -> None:
        parts: list[str] = []
        self.spans: list[_Span] = []
        position = 0
        for element in elements:
            text = element.text.strip()
            if not text:
                continue
            if parts:
                parts.append(_JOINER)
                position += len(_JOINER)
            parts.append(text)
            self.spans.append(_Span(position, position + len(text), element))
            position += len(text)
        self.text = "".join(parts)
        self._starts = [span.start for span in self.spans]

    def metadata(self, start: int, end: int, section: str | None = None) -> dict[str, Any]:
        """Metadata of the chunk text[start:end]: the first page and section among the
        elements it overlaps (``section`` overrides), and the first element's plain
        metadata ("row" only when the chunk lies within that one element; "line" moved to
        the line the chunk starts on)."""
        index = max(bisect.bisect_right(self._starts, start) - 1, 0)
        if self.spans[index].end <= start < len(self.text):  # starts in a joiner
            index += 1
        stop = index
        while stop < len(self.spans) and self.spans[stop].start < end:
            stop += 1
        overlapping = self.spans[index:stop]
        first = overlapping[0] if overlapping else self.spans[index]
        metadata: dict[str, Any] = {}
        page = next((s.element.page for s in overlapping if s.element.page is not None), None)
        if page is not None:
            metadata["page"] = page
        if section is None:
            section = next(
                (s.element.section for s in overlapping if s.element.section is not None), None
            )
        if section is not None:
            metadata["section"] = section
        within = first.start <= start and end <= first.end
        for key, value in first.element.metadata.items():
            if key in metadata or key in _DROPPED_METADATA:
                continue
            if key == "row" and not within:
                continue
            if value is None or not isinstance(value, str | int | float | bool):
                continue  # only plain values: chunk metadata is stored as JSON and filtered on
            if key == "line" and isinstance(value, int) and not isinstance(value, bool):
                value += self.text.count("\n", first.start, max(start, first.start))
            metadata[key] = value
        return metadata


def _drafts(
    joined: _Joined, chunks: list[tuple[int, int, int]], section: str | None = None
) -> list[ChunkDraft]:
    return [
        ChunkDraft(joined.text[start:end], n, joined.metadata(start, end, section))
        for start, end, n in chunks
    ]


def _length_chunks(joined: _Joined, settings: ChunkingSettings, section: str | None = None):
    if not joined.text:
        return []
    splitter = _Splitter(joined.text, settings.chunk_size, settings.chunk_overlap)
    pieces: list[_Piece] = []
    splitter.pieces(0, len(joined.text), pieces)
    return _drafts(joined, splitter.pack(pieces), section)


@dataclass
class _Group:
    section: str | None
    elements: list[Element]
    only_headings: bool


def _sections(elements: list[Element]) -> list[tuple[str | None, list[Element]]]:
    """Consecutive elements of one section, each group with its section path.

    A heading (or title) starts a new group; headings in a row share one, so that a title
    is not a chunk of its own. A group whose elements have no section path is named after
    its last leading heading.
    """
    groups: list[_Group] = []
    for element in elements:
        if not element.text.strip():
            continue
        heading = element.type in _HEADING_TYPES
        current = groups[-1] if groups else None
        if current is not None and current.only_headings:
            # Under a bare heading: join it, taking the more specific section path.
            current.elements.append(element)
            current.only_headings = heading
            if element.section is not None:
                current.section = element.section
            continue
        if current is not None and not heading and element.section == current.section:
            current.elements.append(element)
            continue
        groups.append(_Group(element.section, [element], heading))
    named: list[tuple[str | None, list[Element]]] = []
    for group in groups:
        section = group.section
        if section is None:
            leading = list(takewhile(lambda e: e.type in _HEADING_TYPES, group.elements))
            if leading:
                section = leading[-1].text.strip()
        named.append((section, group.elements))
    return named


def _auto_chunks(elements: list[Element], settings: ChunkingSettings) -> list[ChunkDraft]:
    drafts: list[ChunkDraft] = []
    for section, group in _sections(elements):
        run: list[Element] = []
        for element in group:
            if "row" in element.metadata:
                # A tabular record: a chunk of its own, so that each one can be retrieved.
                drafts.extend(_packed_chunks(run, settings, section))
                run = []
                drafts.extend(_length_chunks(_Joined([element]), settings, section))
            else:
                run.append(element)
        drafts.extend(_packed_chunks(run, settings, section))
    return drafts


def _packed_chunks(
    elements: list[Element], settings: ChunkingSettings, section: str | None
) -> list[ChunkDraft]:
    """Elements of one section packed into chunks; tables and code that fit stay whole."""
    joined = _Joined(elements)
    if not joined.text:
        return []
    splitter = _Splitter(joined.text, settings.chunk_size, settings.chunk_overlap)
    pieces: list[_Piece] = []
    for index, span in enumerate(joined.spans):
        if index:
            pieces.append((span.start - len(_JOINER), span.start, 1))
        if span.element.type in _ATOMIC_TYPES:
            n = _count(joined.text[span.start : span.end])
            if n <= settings.chunk_size:
                pieces.append((span.start, span.end, n))
                continue
        # Too long to keep whole: a table splits at its rows (lines) first, code at lines.
        splitter.pieces(span.start, span.end, pieces)
    return _drafts(joined, splitter.pack(pieces), section)


def _heading_chunks(elements: list[Element], settings: ChunkingSettings) -> list[ChunkDraft]:
    drafts: list[ChunkDraft] = []
    for section, group in _sections(elements):
        drafts.extend(_length_chunks(_Joined(group), settings, section))
    return drafts


def _regex_chunks(elements: list[Element], settings: ChunkingSettings) -> list[ChunkDraft]:
    joined = _Joined(elements)
    text = joined.text
    if not text:
        return []
    assert settings.separator_regex is not None  # the settings' validator requires it
    pattern = re.compile(settings.separator_regex)
    cuts = sorted({match.start() for match in pattern.finditer(text)} - {0})
    splitter = _Splitter(text, settings.chunk_size, settings.chunk_overlap)
    chunks: list[tuple[int, int, int]] = []
    for start, end in zip([0, *cuts], [*cuts, len(text)], strict=True):
        if not text[start:end].strip():
            continue
        # Each piece between matches packs alone: a match always starts a new chunk.
        pieces: list[_Piece] = []
        splitter.pieces(start, end, pieces)
        chunks.extend(splitter.pack(pieces))
    return _drafts(joined, chunks)


def chunk_elements(elements: list[Element], settings: ChunkingSettings) -> list[ChunkDraft]:
    """Cut ``elements`` (a document, in reading order) into chunks as ``settings`` say.

    Every chunk's text is stripped and non-empty; its ``token_count`` is exact (cl100k) and
    at most ``settings.chunk_size``. No elements, or only blank ones, give ``[]``.
    """
    if settings.mode == "length":
        return _length_chunks(_Joined(elements), settings)
    if settings.mode == "heading":
        return _heading_chunks(elements, settings)
    if settings.mode == "regex":
        return _regex_chunks(elements, settings)
    return _auto_chunks(elements, settings)
