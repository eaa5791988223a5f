"""Cleaning the text layer of PDF pages: what the PDF loader does to pypdf's text.

pypdf's "plain" extraction gives each printed line as a line of text, in the order the text is
drawn (column by column in what typesetters and word processors write). These helpers turn
that into text a reader (and a retriever) would recognise, with rules that look at the text
only, never at fonts:

Characters (``clean``): typographic ligatures (ﬁ, ﬂ, ...) spelled out, control characters
dropped, runs of spaces and tabs as one space, no trailing spaces, at most one blank line.

Running headers and footers (``drop_repeated_lines``): a line among the first or last
``MARGIN_LINES`` non-blank lines of a page (at most a third of its lines at each end) is a
header or footer when, with digits normalised (every run of digits is ``#``, so "Page 3 of
10" is "Page 4 of 10") and case and spacing ignored, it is also among the first or last
lines of at least ``MIN_REPEATS`` pages and of at least ``REPEAT_SHARE`` of the pages with
text. It is removed from those places on every page, nowhere else (the same words in the
body stay).

Lines of one paragraph (``join_lines``), decided for each pair of consecutive lines A, B:

1. A word broken at a hyphen (A ends with a letter and "-", B starts with a lowercase letter)
   is joined, whatever the lengths. The hyphen is dropped ("ef-" "ficient" → "efficient")
   unless it is a real one: the word before it already has a hyphen ("end-to-"), the word
   after it has one ("state-" "of-the-art"), or the document spells the compound with a
   hyphen elsewhere ("dual-encoder").
2. Otherwise the lines stay apart when A is blank or B is (a blank line is a paragraph
   break), when A is short (under ``SHORT_LINE`` display columns: a heading, a label, a
   table cell) or ends before the page's full line width (under ``FULL_LINE_SHARE`` of its
   usual long line: a paragraph's last line, a list item, a heading), when A ends a sentence
   (``. ! ? : 。！？：``) and B does not start with a lowercase letter, when B starts like a
   list item, a footnote or a numbered heading (a bullet, "1.", "(a)", "一、", "2 The"), or
   when A or B is mostly not letters (rows of figures, formulas).
3. Otherwise B continues A's paragraph: joined with a space; with nothing when A ends and B
   starts with a Chinese or Japanese character (those scripts put no spaces between words;
   Korean does, so Hangul joins with a space), or when A ends with a letter and a hyphen
   (its hyphen kept: "GPT-" "2" → "GPT-2").

Display columns count East Asian wide characters twice, so that a line of Chinese is as
"long" as a line of Latin text of the same printed width.
"""

from __future__ import annotations

import re
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence

#: Lines at the top and bottom of a page looked at for running headers and footers.
MARGIN_LINES = 3
#: A header or footer repeats on at least this many pages...
MIN_REPEATS = 3
#: ...and on at least this share of the pages with text.
REPEAT_SHARE = 0.6
#: Lines narrower than this (display columns) never join the next one: headings, labels,
#: cells. Body text, even in narrow newspaper columns, is wider.
SHORT_LINE = 20
#: A line narrower than this share of the page's usual long line ends its paragraph.
FULL_LINE_SHARE = 0.65
#: The page's usual long line: this quantile of its lines' widths (the longest few are
#: often URLs or a title set wider).
_FULL_LINE_QUANTILE = 0.8

# Typographic ligatures (ﬁ, ﬂ, ...) that fonts map text to: spelled out so that search
# finds "efficient" in "eﬃcient". Nothing else is normalised (NFKC would also turn Chinese
# full-width punctuation into ASCII).
_LIGATURES = str.maketrans(
    {"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"}
)
# Control characters broken fonts produce; tab and newline are kept.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DIGITS = re.compile(r"\d+")
_SPACES = re.compile(r"\s+")
#: A word broken at the end of a line: letters (and inner hyphens) then a hyphen.
_BROKEN_WORD = re.compile(r"([^\W\d_][\w-]*)-$")
_FIRST_WORD = re.compile(r"^[\w-]+")
_HYPHENATED = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)+")
#: How a sentence ends, allowing a closing quote or bracket after the mark.
_SENTENCE_END = re.compile(r"[.!?:。！？：][\"'\u201d\u2019)\]）】」』]*$")
#: How a list item starts: a bullet, "1." "1)" "(1)" "a." "(iv)", circled numbers, "一、"; and
#: a footnote or numbered heading: "2 The".
_LIST_ITEM = re.compile(
    r"^(?:[•●○◦▪■□◆◇►▶✓✔*·‣\u2043\u2013\u2014-]\s"
    r"|\(?\d{1,3}[.)]\s|\d{1,3}、|\d{1,3}\s(?=[A-Z])"
    r"|\(?[A-Za-z][.)]\s"
    r"|\((?:[ivxIVX]+)\)\s"
    r"|[①-⑳]"
    r"|[（(]?[一二三四五六七八九十]+[、）)])"
)


def clean(text: str) -> str:
    """Page text with ligatures spelled out, runs of spaces and tabs (some producers' word
    spacing) as one space, no trailing spaces and at most one blank line in a row."""
    text = re.sub(r"[ \t]{2,}|\t", " ", _CONTROL.sub("", text.translate(_LIGATURES)))
    text = re.sub(r"[ \u00a0]+\n", "\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def width(line: str) -> int:
    """Display columns of ``line``: East Asian wide and full-width characters count 2."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in line)


def is_cjk(char: str) -> bool:
    """Whether ``char`` is written without spaces between words: Chinese characters, kana,
    full-width punctuation. Hangul is not: Korean separates words with spaces."""
    if not char:
        return False
    code = ord(char)
    return (
        0x3000 <= code <= 0x30FF  # CJK punctuation, hiragana, katakana
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0x4E00 <= code <= 0x9FFF  # unified ideographs
        or 0xF900 <= code <= 0xFAFF  # compatibility ideographs
        or 0xFF00 <= code <= 0xFF60  # full-width forms
        or 0x20000 <= code <= 0x2FFFF  # extensions B and later
    )


def _margin_key(line: str) -> str:
    """What a header or footer line is compared by: digits as ``#``, case and spacing ignored."""
    return _SPACES.sub(" ", _DIGITS.sub("#", line)).strip().casefold()


def _margin_indexes(lines: Sequence[str]) -> list[int]:
    """Indexes of the first and last ``MARGIN_LINES`` non-blank lines, at most a third of
    them at each end: a short page's body is not its margins."""
    filled = [index for index, line in enumerate(lines) if line.strip()]
    count = min(MARGIN_LINES, len(filled) // 3)
    return sorted(set(filled[:count] + filled[len(filled) - count :]))


def drop_repeated_lines(pages: Sequence[str]) -> tuple[list[str], list[str]]:
    """``pages`` (cleaned page texts) without their running headers and footers (see the
    module's docstring), and the lines removed (one of each kind, as first seen)."""
    split = [page.split("\n") for page in pages]
    with_text = sum(1 for page in pages if page.strip())
    needed = max(MIN_REPEATS, REPEAT_SHARE * with_text)
    seen_on: dict[str, set[int]] = defaultdict(set)
    example: dict[str, str] = {}
    for number, lines in enumerate(split):
        for index in _margin_indexes(lines):
            key = _margin_key(lines[index])
            seen_on[key].add(number)
            example.setdefault(key, lines[index].strip())
    repeated = {key for key, numbers in seen_on.items() if len(numbers) >= needed}
    if not repeated:
        return list(pages), []
    cleaned = []
    for lines in split:
        drop = {i for i in _margin_indexes(lines) if _margin_key(lines[i]) in repeated}
        kept = [line for index, line in enumerate(lines) if index not in drop]
        cleaned.append(re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip())
    return cleaned, [example[key] for key in sorted(repeated, key=list(example).index)]


def hyphenated_words(texts: Iterable[str]) -> frozenset[str]:
    """The words spelled with inner hyphens in ``texts`` ("dual-encoder"), lower-cased: the
    compounds whose hyphen is kept when a line break falls on it."""
    return frozenset(
        match.group().casefold() for text in texts for match in _HYPHENATED.finditer(text)
    )


def _hyphen_joint(line: str, following: str, vocabulary: frozenset[str]) -> str | None:
    """How ``line`` and ``following`` join when a word is broken between them: "" (the
    hyphen dropped) or "-" (a real hyphen kept); None when no word is broken."""
    broken = _BROKEN_WORD.search(line)
    if broken is None or not following[:1].islower():
        return None
    before = broken.group(1)
    after = _FIRST_WORD.match(following)
    after_word = after.group() if after else ""
    if "-" in before or "-" in after_word:
        return "-"
    last_part = before.rsplit("-", 1)[-1]
    if f"{last_part}-{after_word.rstrip('-')}".casefold() in vocabulary:
        return "-"
    return ""


def _mostly_letters(line: str) -> bool:
    """Whether at least half of the line's non-space characters are letters."""
    visible = [char for char in line if not char.isspace()]
    return sum(char.isalpha() for char in visible) * 2 >= len(visible)


def _full_width(lines: Sequence[str]) -> float:
    """The width of the page's usual long line (see ``_FULL_LINE_QUANTILE``)."""
    widths = sorted(width(line) for line in lines if line.strip())
    if not widths:
        return 0.0
    if len(widths) < 3:
        return float(widths[-1])
    return statistics.quantiles(widths, n=10, method="inclusive")[
        round(_FULL_LINE_QUANTILE * 10) - 1
    ]


def _space(left: str, right: str) -> str:
    """What goes between two joined pieces: nothing between Chinese or Japanese characters
    or after a hyphen that ends a word ("GPT-" "2")."""
    if (is_cjk(left[-1:]) and is_cjk(right[:1])) or _BROKEN_WORD.search(left):
        return ""
    return " "


def join_lines(text: str, vocabulary: frozenset[str] = frozenset()) -> str:
    """``text`` (one page, cleaned) with words broken at line ends mended and each
    paragraph's lines on one line, as the module's docstring says; lines that stay apart
    are separated by the newlines they had. ``vocabulary``: ``hyphenated_words`` of the
    document."""
    lines = text.split("\n")
    full = _full_width(lines)
    out: list[str] = []
    for index, line in enumerate(lines):
        if index == 0:
            out.append(line)
            continue
        previous = lines[index - 1]
        if previous.strip() and line.strip():
            hyphen = _hyphen_joint(previous, line, vocabulary)
            if hyphen is not None:
                out[-1] = out[-1][:-1] + hyphen + line
                continue
            if _continues(previous, line, full):
                out[-1] = out[-1] + _space(out[-1], line) + line
                continue
        out.append(line)
    return "\n".join(out)


def _continues(line: str, following: str, full: float) -> bool:
    """Whether ``following`` continues ``line``'s paragraph (rule 2 of the docstring)."""
    line_width = width(line)
    if line_width < SHORT_LINE or line_width < FULL_LINE_SHARE * full:
        return False
    if _SENTENCE_END.search(line) and not following[:1].islower():
        return False
    if _LIST_ITEM.match(following):
        return False
    return _mostly_letters(line) and _mostly_letters(following)


def join_wrapped(lines: Iterable[str]) -> str:
    """The lines of one table cell as one line: broken words mended (rule 1), other lines
    joined with a space, or with nothing between Chinese or Japanese characters."""
    joined = ""
    for line in (line.strip() for line in lines):
        if not line:
            continue
        if not joined:
            joined = line
            continue
        hyphen = _hyphen_joint(joined, line, frozenset())
        if hyphen is not None:
            joined = joined[:-1] + hyphen + line
        else:
            joined = joined + _space(joined, line) + line
    return joined
