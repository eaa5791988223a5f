"""Offline token counting (quicktok), used when an upstream reports no usage and by the
chunker."""

from kernel.tokens import count_tokens


def test_counts_are_offline_and_model_aware():
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("你好，世界", "qwen-plus") > 0


def test_text_that_spells_a_special_token_is_plain_text():
    # A document or prompt may contain "<|endoftext|>" literally; it must be counted, not
    # refused (the strict encoder raises on it).
    assert count_tokens("before <|endoftext|> after") > 3
    assert count_tokens("<|im_start|>user", "qwen3") > 1
