"""Offline token counting (quicktok), used when an upstream reports no usage and by the
chunker."""

from kernel.tokens import count_tokens, estimated_usage, messages_text
from plugins.base import ChatMessage, Usage


def test_counts_are_offline_and_model_aware():
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("你好，世界", "qwen-plus") > 0


def test_text_that_spells_a_special_token_is_plain_text():
    # A document or prompt may contain "<|endoftext|>" literally; it must be counted, not
    # refused (the strict encoder raises on it).
    assert count_tokens("before <|endoftext|> after") > 3
    assert count_tokens("<|im_start|>user", "qwen3") > 1


def test_a_chats_prompt_is_its_messages_contents_one_a_line():
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="assistant", tool_calls=[]),
        ChatMessage(role="user", content="Hi"),
    ]
    assert messages_text(messages) == "Be brief.\n\nHi"


def test_estimated_usage_counts_both_sides_for_the_model():
    assert estimated_usage("hello world", "", "gpt-x") == Usage(input_tokens=2, output_tokens=0)
    usage = estimated_usage("你好", "世界，你好", "qwen-plus")
    assert usage.input_tokens == count_tokens("你好", "qwen-plus")
    assert usage.output_tokens == count_tokens("世界，你好", "qwen-plus")
