"""The Markdown loader: heading paths as sections, code blocks whole, lists and tables."""

from importlib.metadata import entry_points

import pytest

from plugins.base import LoaderInput, PluginSettings
from plugins.loaders.markdown import MarkdownLoader


def load(text: str | bytes) -> list:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return MarkdownLoader().load(LoaderInput(filename="f.md", data=data), PluginSettings())


def shape(elements: list) -> list[tuple]:
    return [(e.type, e.section, e.text) for e in elements]


def test_atx_and_setext_headings_give_section_paths():
    text = """# Intro

Opening words.

## Scope ##

What is in.

### Details
Small print.

Setext top
==========

Under the top.

Setext second
-------------

Under the second.
"""
    assert shape(load(text)) == [
        ("heading", "Intro", "Intro"),
        ("paragraph", "Intro", "Opening words."),
        ("heading", "Intro > Scope", "Scope"),
        ("paragraph", "Intro > Scope", "What is in."),
        ("heading", "Intro > Scope > Details", "Details"),
        ("paragraph", "Intro > Scope > Details", "Small print."),
        ("heading", "Setext top", "Setext top"),
        ("paragraph", "Setext top", "Under the top."),
        ("heading", "Setext top > Setext second", "Setext second"),
        ("paragraph", "Setext top > Setext second", "Under the second."),
    ]
    assert [e.metadata["level"] for e in load(text) if e.type == "heading"] == [1, 2, 3, 1, 2]


def test_chinese_headings_and_text():
    text = (
        "# 大模型推理优化策略\n\n显存优化方法如下。\n\n"
        "## 量化\n\n- PQ 将特征空间分解\n  为多个子空间\n"
    )
    assert shape(load(text)) == [
        ("heading", "大模型推理优化策略", "大模型推理优化策略"),
        ("paragraph", "大模型推理优化策略", "显存优化方法如下。"),
        ("heading", "大模型推理优化策略 > 量化", "量化"),
        ("list_item", "大模型推理优化策略 > 量化", "- PQ 将特征空间分解\n为多个子空间"),
    ]
    assert shape(load(text.encode("gb18030"))) == shape(load(text))


def test_a_heading_inside_a_fenced_code_block_is_code_and_the_block_stays_whole():
    text = """## Setup

```python
# not a heading
def f():

    return 1
```

~~~
## also not a heading
~~~

After.
"""
    elements = load(text)
    assert shape(elements) == [
        ("heading", "Setup", "Setup"),
        ("code", "Setup", "```python\n# not a heading\ndef f():\n\n    return 1\n```"),
        ("code", "Setup", "~~~\n## also not a heading\n~~~"),
        ("paragraph", "Setup", "After."),
    ]
    assert elements[1].metadata == {"line": 3, "language": "python"}


def test_an_unclosed_fence_runs_to_the_end():
    assert shape(load("# T\n```\ncode\n# still code")) == [
        ("heading", "T", "T"),
        ("code", "T", "```\ncode\n# still code"),
    ]


def test_nested_list_items_carry_their_level_and_parents():
    elements = load("- RAG\n    - 向量数据库\n        - 选型标准\n- Agents\n")
    assert [(e.text, e.metadata["level"], e.metadata.get("parents")) for e in elements] == [
        ("- RAG", 1, None),
        ("- 向量数据库", 2, ["RAG"]),
        ("- 选型标准", 3, ["RAG", "向量数据库"]),
        ("- Agents", 1, None),
    ]


def test_a_pipe_table_is_one_element_per_row_with_its_header():
    text = "| name | city |\n| --- | :---: |\n| Alice | Paris, France |\n| 张三 | 北京 |\n"
    elements = load(text)
    assert [(e.type, e.text, e.metadata["row"]) for e in elements] == [
        ("table", "name | city", 0),
        ("table", "Alice | Paris, France", 1),
        ("table", "张三 | 北京", 2),
    ]
    assert {tuple(e.metadata["header"]) for e in elements} == {("name", "city")}


def test_front_matter_breaks_and_hash_words_are_not_headings():
    text = "---\ntitle: Notes\ntags: [a]\n---\n\n#hashtag is text\n\n***\n\n####### seven\n"
    assert shape(load(text)) == [
        ("text", None, "title: Notes\ntags: [a]"),
        ("paragraph", None, "#hashtag is text"),
        ("paragraph", None, "####### seven"),
    ]


def test_inline_markup_is_dropped_from_section_paths_only():
    (heading, paragraph) = load("# **Bold** [link](https://x) `code`\ntext **kept**\n")
    assert heading.section == heading.text == "Bold link code"
    assert paragraph.text == "text **kept**"


def test_line_numbers_are_recorded():
    elements = load("# A\r\n\r\npara\r\n")
    assert [e.metadata["line"] for e in elements] == [1, 3]


def test_an_empty_file_has_no_elements():
    assert load("") == []
    assert load("\n  \n") == []


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"\x89PNG\r\n\x1a\n\x00\x00", "looks binary"), (b"caf\xe9 \x81", "not text in UTF-8")],
)
def test_unreadable_bytes_are_refused_with_a_reason(data, reason):
    with pytest.raises(ValueError, match=reason):
        load(data)


def test_it_is_registered_and_satisfies_the_contract():
    MarkdownLoader.check_contract()
    assert entry_points(group="ministudio.loaders")["markdown"].load() is MarkdownLoader
    assert MarkdownLoader.enabled_by_default is True
    assert {".md", ".markdown"} <= set(MarkdownLoader.file_extensions)
