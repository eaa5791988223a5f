"""Listwise rerank with a chat model: the model reads the query and the numbered passages
and answers their order, best first, as a JSON list of passage numbers.

Any chat model can rerank this way, no rerank server needed; it costs a chat call (the
passages are its prompt) and is as good as the model's judgement. The caller brings the
chat call (``chat``), so the platform meters it like any other, and this module stays
free of the platform: it is part of the plugin kit, which retrieval uses for a knowledge
base whose reranker is a chat model (``rerank_mode`` listwise) and a provider may use too.

The answer is read generously: unknown and repeated numbers are ignored, passages the model
left out follow in their original order, a reasoning model's ``<think>`` block is skipped.
An answer with no order in it at all keeps the original order (logged, not an error): a
reranker that said nothing useful must not fail the search. Upstream errors of the chat call
propagate unchanged.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable

from plugins.base import (
    ChatMessage,
    ChatRequest,
    ChatResponse,
    RerankRequest,
    RerankResponse,
    RerankResult,
)

logger = logging.getLogger(__name__)

#: Passages the model orders at most; the rest follow them in their original order. Past a
#: few dozen, models lose track of passages and the prompt outgrows small context windows.
WINDOW = 20
#: Characters of each passage the model reads: its beginning says what it is about.
PASSAGE_CHARACTERS = 600
#: Room for the answer: a list of 20 numbers, or a reasoning model's short preamble.
ANSWER_TOKENS = 512

SYSTEM_PROMPT = (
    "You rank passages by how well they answer a search query. Reply with only a JSON "
    "array of the passage numbers, most relevant first, for example [3, 1, 2]. Include "
    "every passage number once. Do not explain."
)

_THINKING = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
_ARRAY = re.compile(r"\[[^\[\]]*\]")
#: RankGPT's answer style: ``[2] > [1] > [3]``.
_CHAIN = re.compile(r"\[\s*(\d+)\s*\]\s*(?:>|$)")


def prompt(query: str, passages: list[str]) -> list[ChatMessage]:
    """The conversation that asks for the order of ``passages`` (numbered from 1)."""
    numbered = "\n\n".join(
        f"[{number}] {' '.join(text.split())[:PASSAGE_CHARACTERS]}"
        for number, text in enumerate(passages, start=1)
    )
    ask = (
        f"Query: {query}\n\nPassages:\n\n{numbered}\n\n"
        f"Order all {len(passages)} passages by relevance to the query, most relevant "
        "first. Reply with the JSON array of passage numbers only."
    )
    return [
        ChatMessage(role="system", content=SYSTEM_PROMPT),
        ChatMessage(role="user", content=ask),
    ]


def _numbers(answer: str) -> list[object] | None:
    """The list of passage numbers in the answer, as written, or None when there is none:
    a RankGPT-style ``[2] > [1]`` chain, else the last JSON array in it (a model may quote
    passages before it answers)."""
    text = _THINKING.sub("", answer)
    chain = _CHAIN.findall(text)
    if len(chain) > 1:
        return [int(number) for number in chain]
    for candidate in reversed(_ARRAY.findall(text)):
        try:
            found = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(found, list) and any(_number(item) is not None for item in found):
            return found
    return None


def _number(item: object) -> int | None:
    """A passage number from a list item: 3, or "3" (some models quote them)."""
    if isinstance(item, bool):
        return None
    if isinstance(item, int):
        return item
    if isinstance(item, str) and item.strip().isdigit():
        return int(item.strip())
    return None


def parse_order(answer: str | None, count: int) -> list[int] | None:
    """The 0-based order of ``count`` passages that ``answer`` gives (numbered from 1),
    complete: unknown and repeated numbers dropped, missing passages appended in their
    original order. None when the answer holds no order at all."""
    numbers = _numbers(answer or "")
    if numbers is None:
        return None
    order: list[int] = []
    seen: set[int] = set()
    for item in numbers:
        number = _number(item)
        if number is None or not 1 <= number <= count or number - 1 in seen:
            continue
        seen.add(number - 1)
        order.append(number - 1)
    if not order:
        return None
    return order + [index for index in range(count) if index not in seen]


def rank_score(rank: int, count: int) -> float:
    """The score of the passage at 0-based ``rank`` of ``count``: 1 for the first, falling
    evenly to 1/count for the last, so always in (0, 1]."""
    return (count - rank) / count


def rerank(request: RerankRequest, chat: Callable[[ChatRequest], ChatResponse]) -> RerankResponse:
    """``request``'s documents in the order the chat model gives, best first (``top_n`` of
    them when given), each scored by its rank (``rank_score``). ``chat`` makes the chat
    call (``request.model`` is the model asked); its upstream errors propagate.

    The first ``WINDOW`` documents are ordered; the rest follow in their order. An answer
    with no order in it keeps the original order."""
    count = len(request.documents)
    if not count:
        return RerankResponse(results=[])
    window = min(count, WINDOW)
    answer = chat(
        ChatRequest(
            model=request.model,
            messages=prompt(request.query, request.documents[:window]),
            temperature=0,
            max_tokens=ANSWER_TOKENS,
        )
    )
    order = parse_order(answer.message.content, window)
    if order is None:
        logger.warning(
            "Listwise rerank with %s: the answer held no order of passages (%.200r); the "
            "original order is kept.",
            request.model,
            answer.message.content,
        )
        order = list(range(window))
    order += range(window, count)
    results = [
        RerankResult(index=index, score=rank_score(rank, count)) for rank, index in enumerate(order)
    ]
    if request.top_n is not None:
        results = results[: request.top_n]
    return RerankResponse(results=results, usage=answer.usage)
