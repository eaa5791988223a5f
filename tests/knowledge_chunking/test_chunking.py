"""Chunking elements for a knowledge base: the four modes, sizes, overlap, CJK sentence
boundaries, metadata carried, tabular records, and settings validation. Pure functions:
no database."""

# The Chinese test text is full of full-width punctuation, on purpose.

import itertools
import re

import pytest
from pydantic import ValidationError

from apps.knowledge.chunking import ChunkDraft, ChunkingSettings, chunk_elements
from kernel.tokens import count_tokens
from plugins.base import Element

ZH_SENTENCES = [
    "知识库把上传的文档切成小块，以便按语义检索。",
    "每一块都应当保持语义完整，不能在句子中间断开！",
    "这样检索到的内容才便于大模型理解和引用吗？",
    "我们优先在段落和句号处切分，其次才是逗号和字符。",
    "表格的每一行都是一条独立的记录，应当单独成块。",
    "代码块在长度允许时保持完整，不被拆开。",
]
EN_SENTENCES = [
    "The knowledge base cuts uploaded documents into chunks for semantic retrieval.",
    "Each chunk should stay coherent and never stop in the middle of a sentence!",
    "Does the retriever then return passages a model can quote?",
    "Paragraphs and full stops come first; commas and characters come last.",
]
# A Chinese sentence ends at one of these (the splitter keeps the mark with its sentence).
ZH_END = re.compile(r"(?<=[。！？])")


def zh_text(sentences: int) -> str:
    return "".join(ZH_SENTENCES[i % len(ZH_SENTENCES)] for i in range(sentences))


def en_text(sentences: int) -> str:
    return " ".join(EN_SENTENCES[i % len(EN_SENTENCES)] for i in range(sentences))


def check_sizes(chunks: list[ChunkDraft], size: int) -> None:
    """Every chunk is stripped, non-empty, exactly counted and within the size."""
    assert chunks
    for chunk in chunks:
        assert chunk.text == chunk.text.strip() and chunk.text
        assert chunk.token_count == count_tokens(chunk.text, "cl100k")
        assert chunk.token_count <= size


def shared(previous: str, following: str) -> str:
    """The longest start of ``following`` that ``previous`` ends with (their overlap)."""
    for length in range(min(len(previous), len(following)), 0, -1):
        if previous.endswith(following[:length]):
            return following[:length]
    return ""


def settings(**values) -> ChunkingSettings:
    return ChunkingSettings(**values)


# --- settings -------------------------------------------------------------------------------


def test_default_settings():
    defaults = ChunkingSettings()
    assert (defaults.mode, defaults.chunk_size, defaults.chunk_overlap) == ("auto", 512, 64)
    assert defaults.separator_regex is None


@pytest.mark.parametrize(
    "values",
    [
        {"chunk_size": 100, "chunk_overlap": 100},
        {"chunk_size": 100, "chunk_overlap": 150},
        {"chunk_size": 16},
        {"chunk_size": 10_000},
        {"chunk_overlap": -1},
        {"mode": "regex"},
        {"mode": "regex", "separator_regex": ""},
        {"mode": "regex", "separator_regex": "(unclosed"},
        {"mode": "length", "separator_regex": "[z-a]"},
        {"mode": "regex", "separator_regex": r"\n*"},  # matches nothing: would cut everywhere
        {"mode": "sentences"},
    ],
)
def test_invalid_settings_are_refused(values):
    with pytest.raises(ValidationError):
        ChunkingSettings(**values)


def test_regex_settings_accept_a_pattern():
    assert ChunkingSettings(mode="regex", separator_regex=r"(?m)^第.+章").separator_regex


# --- empty input ----------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["auto", "length", "heading", "regex"])
def test_no_text_gives_no_chunks(mode):
    values = {"mode": mode, "separator_regex": "---"}
    assert chunk_elements([], settings(**values)) == []
    blank = [Element(text="  \n\n "), Element(type="heading", text=" ", section="A")]
    assert chunk_elements(blank, settings(**values)) == []


# --- length ---------------------------------------------------------------------------------


def unique_text(paragraphs: int, sentences: int) -> str:
    """Paragraphs of sentences that all differ (so that overlaps can be found by text)."""
    return "\n\n".join(
        " ".join(
            f"Paragraph {p} sentence {s} says something about item {p * 31 + s}."
            for s in range(sentences)
        )
        for p in range(paragraphs)
    )


def test_length_respects_size_and_covers_the_text():
    text = unique_text(20, 7)
    chunks = chunk_elements(
        [Element(text=text)], settings(mode="length", chunk_size=64, chunk_overlap=8)
    )
    check_sizes(chunks, 64)
    assert len(chunks) > 10
    # Sentences fit, so every chunk ends at a sentence end; less each overlap, the chunks
    # give back the text.
    assert all(c.text.endswith(".") for c in chunks)
    rebuilt = chunks[0].text
    for previous, following in itertools.pairwise(chunks):
        rebuilt += " " + following.text.removeprefix(shared(previous.text, following.text))
    assert " ".join(rebuilt.split()) == " ".join(text.split())


def test_length_keeps_a_small_document_whole():
    elements = [Element(text="First paragraph."), Element(text="Second paragraph.")]
    (chunk,) = chunk_elements(elements, settings(mode="length"))
    assert chunk.text == "First paragraph.\n\nSecond paragraph."


def test_length_cuts_at_paragraphs_before_sentences():
    paragraphs = [en_text(3) for _ in range(6)]  # about 45 tokens each
    chunks = chunk_elements(
        [Element(text="\n\n".join(paragraphs))],
        settings(mode="length", chunk_size=100, chunk_overlap=0),
    )
    check_sizes(chunks, 100)
    assert [c.text for c in chunks] == ["\n\n".join(paragraphs[i : i + 2]) for i in (0, 2, 4)]


def test_length_overlap_is_shared_on_boundaries():
    # Sentences that differ, so that the shared text is the overlap, not a repetition.
    text = " ".join(f"Sentence number {i} is about topic {i * 7}." for i in range(120))
    chunks = chunk_elements(
        [Element(text=text)], settings(mode="length", chunk_size=80, chunk_overlap=20)
    )
    check_sizes(chunks, 80)
    for previous, following in itertools.pairwise(chunks):
        overlap = shared(previous.text, following.text)
        assert 10 <= count_tokens(overlap, "cl100k") <= 20, (previous.text, following.text)
        # The overlap starts after a separator (a sentence end or a space), not mid-word.
        start = len(previous.text) - len(overlap)
        assert previous.text[start - 1] == " "


def test_length_without_overlap_shares_nothing():
    text = en_text(60)
    chunks = chunk_elements(
        [Element(text=text)], settings(mode="length", chunk_size=80, chunk_overlap=0)
    )
    assert " ".join(c.text for c in chunks) == text


def test_chinese_is_cut_after_sentence_ends():
    text = zh_text(40)
    chunks = chunk_elements(
        [Element(text=text)], settings(mode="length", chunk_size=64, chunk_overlap=0)
    )
    check_sizes(chunks, 64)
    assert "".join(c.text for c in chunks) == text
    sentences = set(ZH_SENTENCES)
    for chunk in chunks:
        # Whole sentences only, each with its closing mark.
        assert chunk.text[-1] in "。！？"
        assert all(part in sentences for part in ZH_END.split(chunk.text) if part)


def test_chinese_with_overlap_still_ends_at_sentence_ends():
    text = zh_text(40)
    chunks = chunk_elements(
        [Element(text=text)], settings(mode="length", chunk_size=64, chunk_overlap=16)
    )
    check_sizes(chunks, 64)
    for previous, following in itertools.pairwise(chunks):
        assert previous.text[-1] in "。！？"
        assert shared(previous.text, following.text)


def test_a_long_chinese_sentence_is_cut_at_commas():
    clauses = [
        "第一部分说明了检索的背景，",
        "第二部分给出了分块的规则，",
        "第三部分讨论性能，",
    ] * 10
    text = "".join(clauses)[:-1] + "。"
    chunks = chunk_elements(
        [Element(text=text)], settings(mode="length", chunk_size=40, chunk_overlap=0)
    )
    check_sizes(chunks, 40)
    assert "".join(c.text for c in chunks) == text
    assert all(c.text[-1] in "，。" for c in chunks)


def test_text_without_any_separator_is_cut_at_characters():
    text = "无标点的长文本" * 300
    chunks = chunk_elements(
        [Element(text=text)], settings(mode="length", chunk_size=50, chunk_overlap=10)
    )
    check_sizes(chunks, 50)
    for previous, following in itertools.pairwise(chunks):
        assert shared(previous.text, following.text)
    assert text.startswith(chunks[0].text) and text.endswith(chunks[-1].text)


def test_length_metadata_is_the_first_page_and_element():
    elements = [
        Element(text=en_text(6), page=page, section=f"Part {page}", metadata={"line": 10 * page})
        for page in range(1, 6)
    ]
    chunks = chunk_elements(elements, settings(mode="length", chunk_size=64, chunk_overlap=0))
    check_sizes(chunks, 64)
    first = {c.metadata["page"] for c in chunks}
    assert first == {1, 2, 3, 4, 5}
    for chunk in chunks:
        page = chunk.metadata["page"]
        assert chunk.metadata["section"] == f"Part {page}"
        # The chunk starts within that page's element (which begins at its line).
        assert chunk.text[:30] in elements[page - 1].text
        assert chunk.metadata["line"] == 10 * page


def test_special_token_text_is_plain_text():
    text = "A tokenizer document mentions <|endoftext|> literally. " * 40
    chunks = chunk_elements(
        [Element(text=text)], settings(mode="length", chunk_size=64, chunk_overlap=8)
    )
    assert all(0 < c.token_count <= 64 for c in chunks)


# --- heading --------------------------------------------------------------------------------


def sectioned() -> list[Element]:
    return [
        Element(type="title", text="User guide", section="User guide", page=1),
        Element(type="heading", text="Install", section="User guide > Install", page=1),
        Element(text="Run the installer.", section="User guide > Install", page=1),
        Element(text="Then restart.", section="User guide > Install", page=2),
        Element(type="heading", text="Usage", section="User guide > Usage", page=2),
        Element(text=en_text(30), section="User guide > Usage", page=3),
        Element(text=zh_text(12), section="User guide > Usage", page=4),
        Element(type="heading", text="FAQ", section="User guide > FAQ", page=5),
        Element(text="Ask us.", section="User guide > FAQ", page=5),
    ]


@pytest.mark.parametrize("mode", ["heading", "auto"])
def test_sections_are_chunked_apart(mode):
    chunks = chunk_elements(sectioned(), settings(mode=mode, chunk_size=100, chunk_overlap=10))
    check_sizes(chunks, 100)
    by_section: dict[str, list[ChunkDraft]] = {}
    for chunk in chunks:
        by_section.setdefault(chunk.metadata["section"], []).append(chunk)
    assert list(by_section) == ["User guide > Install", "User guide > Usage", "User guide > FAQ"]
    # The title and its first heading head the first section's one chunk.
    (install,) = by_section["User guide > Install"]
    assert install.text == "User guide\n\nInstall\n\nRun the installer.\n\nThen restart."
    assert install.metadata["page"] == 1
    usage = by_section["User guide > Usage"]
    assert len(usage) > 3
    assert usage[0].text.startswith("Usage\n\n") and usage[0].metadata["page"] == 2
    assert usage[-1].metadata["page"] == 4
    assert [c.text for c in by_section["User guide > FAQ"]] == ["FAQ\n\nAsk us."]
    # No chunk mixes two sections' text.
    assert not any("Ask us." in c.text for c in usage)


def test_headings_without_paths_name_their_section():
    elements = [
        Element(type="heading", text="Alpha"),
        Element(text="About alpha."),
        Element(type="heading", text="Beta"),
        Element(text="About beta."),
    ]
    chunks = chunk_elements(elements, settings(mode="heading"))
    assert [(c.text, c.metadata) for c in chunks] == [
        ("Alpha\n\nAbout alpha.", {"section": "Alpha"}),
        ("Beta\n\nAbout beta.", {"section": "Beta"}),
    ]


def test_heading_mode_splits_a_long_section_by_length():
    elements = [Element(type="heading", text="Long", section="Long"), Element(text=zh_text(30))]
    chunks = chunk_elements(elements, settings(mode="heading", chunk_size=64, chunk_overlap=0))
    check_sizes(chunks, 64)
    assert len(chunks) > 3
    assert {c.metadata["section"] for c in chunks} == {"Long"}
    assert "".join(c.text for c in chunks) == "Long\n\n" + zh_text(30)


# --- auto -----------------------------------------------------------------------------------


def test_auto_packs_paragraphs_of_a_section():
    elements = [
        Element(text=f"Paragraph {i}. " + en_text(1), metadata={"line": i}) for i in range(9)
    ]
    chunks = chunk_elements(elements, settings(chunk_size=64, chunk_overlap=0))
    check_sizes(chunks, 64)
    assert 1 < len(chunks) < 9
    # Paragraphs fit, so each chunk is whole paragraphs: it starts at one and ends at one.
    texts = [e.text for e in elements]
    for chunk in chunks:
        parts = chunk.text.split("\n\n")
        assert all(part in texts for part in parts)
        assert chunk.metadata["line"] == texts.index(parts[0])
    assert "\n\n".join(c.text for c in chunks) == "\n\n".join(texts)


def test_auto_without_sections_matches_plain_packing():
    (chunk,) = chunk_elements([Element(text="One."), Element(text="Two.")], settings())
    assert chunk == ChunkDraft("One.\n\nTwo.", count_tokens("One.\n\nTwo.", "cl100k"), {})


def test_tabular_rows_are_one_chunk_each():
    header = ["name", "city"]
    rows = [
        Element(
            type="table",
            text=f"name: Person {i}\ncity: City {i}",
            metadata={"sheet": "People", "row": i + 2, "header": header},
        )
        for i in range(5)
    ]
    elements = [Element(text="Intro paragraph before the table."), *rows]
    chunks = chunk_elements(elements, settings(chunk_size=512))
    check_sizes(chunks, 512)
    assert [c.text for c in chunks] == [e.text for e in elements]
    assert chunks[0].metadata == {}
    for number, chunk in enumerate(chunks[1:]):
        assert chunk.metadata == {"sheet": "People", "row": number + 2}


def test_a_row_over_the_size_is_split_as_a_last_resort():
    row = Element(type="table", text="notes: " + en_text(20), metadata={"row": 7})
    chunks = chunk_elements([row], settings(chunk_size=64, chunk_overlap=8))
    check_sizes(chunks, 64)
    assert len(chunks) > 1
    assert all(c.metadata == {"row": 7} for c in chunks)


def test_tables_and_code_stay_whole_when_they_fit():
    table = "| a | b |\n|---|---|\n" + "\n".join(f"| {i} | value {i} |" for i in range(12))
    code = "def handler(event):\n" + "\n".join(f"    step_{i}(event)" for i in range(12))
    elements = [
        Element(text=en_text(5)),
        Element(type="table", text=table),
        Element(text=en_text(5)),
        Element(type="code", text=code),
        Element(text=en_text(5)),
    ]
    size = 160
    assert count_tokens(table, "cl100k") < size and count_tokens(code, "cl100k") < size
    chunks = chunk_elements(elements, settings(chunk_size=size, chunk_overlap=16))
    check_sizes(chunks, size)
    assert any(table in c.text for c in chunks)
    assert any(code in c.text for c in chunks)


def test_a_table_over_the_size_is_cut_between_rows():
    lines = [f"| {i} | a value in row {i} |" for i in range(60)]
    table = Element(type="table", text="\n".join(lines))
    chunks = chunk_elements([table], settings(chunk_size=64, chunk_overlap=0))
    check_sizes(chunks, 64)
    assert len(chunks) > 1
    for chunk in chunks:
        assert all(line in lines for line in chunk.text.split("\n"))
    assert "\n".join(c.text for c in chunks) == table.text


def test_auto_carries_the_first_page_and_the_starting_line():
    elements = [
        Element(
            text="\n".join(f"line {i} of the text." for i in range(40)),
            page=3,
            metadata={"line": 5},
        )
    ]
    chunks = chunk_elements(elements, settings(chunk_size=48, chunk_overlap=0))
    check_sizes(chunks, 48)
    for chunk in chunks:
        first_line = int(chunk.text.split()[1])
        assert chunk.metadata == {"page": 3, "line": 5 + first_line}


# --- regex ----------------------------------------------------------------------------------


def test_regex_starts_a_chunk_at_each_match():
    text = "\n".join(f"第{i}章 标题{i}\n" + ZH_SENTENCES[i % 6] for i in range(1, 6))
    chunks = chunk_elements(
        [Element(text=text, page=1)], settings(mode="regex", separator_regex=r"(?m)^第\d+章")
    )
    check_sizes(chunks, 512)
    assert [c.text.split()[0] for c in chunks] == [f"第{i}章" for i in range(1, 6)]
    assert "\n".join(c.text for c in chunks) == text
    assert all(c.metadata == {"page": 1} for c in chunks)


def test_regex_length_splits_oversize_pieces_and_keeps_text_before_the_first_match():
    text = "Preface.\n---\n" + en_text(40) + "\n---\nShort end."
    chunks = chunk_elements(
        [Element(text=text)],
        settings(mode="regex", separator_regex=r"\n---\n", chunk_size=64, chunk_overlap=0),
    )
    check_sizes(chunks, 64)
    assert chunks[0].text == "Preface."
    assert chunks[1].text.startswith("---\n")
    assert chunks[-1].text == "---\nShort end."
    assert len(chunks) > 4
