"""Counting tokens offline, for upstreams that report no usage.

``quicktok`` ships its BPE files inside the package (plain ``tiktoken`` downloads them at
run time, which fails offline). Qwen models use Qwen's vocabulary; everything else cl100k.
"""

import functools
from collections.abc import Iterable

import quicktok

from plugins.base import ChatMessage, Usage


@functools.cache
def _encoding(name: str):
    return quicktok.get_encoding(name)


def count_tokens(text: str, model: str = "") -> int:
    """The number of tokens ``text`` has for ``model`` (an estimate for unknown models)."""
    if not text:
        return 0
    name = "qwen3" if "qwen" in model.lower() else "cl100k_base"
    # Ordinary: text that spells a special token ("<|endoftext|>") is counted as the plain
    # text it is; the strict encoder would raise on it.
    return len(_encoding(name).encode_ordinary(text))


def messages_text(messages: Iterable[ChatMessage]) -> str:
    """A chat's prompt as it is counted: the messages' contents, one a line."""
    return "\n".join(message.content or "" for message in messages)


def estimated_usage(prompt_text: str, completion_text: str, model: str) -> Usage:
    """The usage of a call whose upstream reported none, counted here."""
    return Usage(
        input_tokens=count_tokens(prompt_text, model),
        output_tokens=count_tokens(completion_text, model),
    )
