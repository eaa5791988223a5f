"""Listwise rerank's prompt, the generous reading of the model's answer and the scores, with
a real chat provider against the upstream stub (no mocks)."""

import functools
import logging

import pytest

from plugins import listwise_rerank
from plugins.base import RerankRequest, UpstreamServerError
from plugins.listwise_rerank import WINDOW, parse_order, rank_score
from plugins.models.openai_compatible import OpenAICompatibleProvider
from tests import upstream as stub
from tests.plugins import provider_cases as cases

DOCUMENTS = ["alpha text", "beta text", "gamma text", "delta text"]


@pytest.mark.parametrize(
    ("answer", "order"),
    [
        ("[2, 4, 1, 3]", [1, 3, 0, 2]),
        ("[3]", [2, 0, 1, 3]),  # the missing follow in their order
        ("[3, 3, 9, 0, -1, 1]", [2, 0, 1, 3]),  # repeats and unknown numbers dropped
        ('["4", "1"]', [3, 0, 1, 2]),  # quoted numbers
        ("[true, 2.5, null, 2]", [1, 0, 2, 3]),
        ("Ranking: [4, 3, 2, 1]\nDone.", [3, 2, 1, 0]),
        ("<think>maybe [1, 2]</think>\n[2, 1]", [1, 0, 2, 3]),  # the reasoning is skipped
        ("passages [1] and [2]... final answer: [4, 2]", [3, 1, 0, 2]),  # the last array
        ("[2] > [4] > [1]", [1, 3, 0, 2]),  # RankGPT's style
        ("```json\n[1, 2, 3, 4]\n```", [0, 1, 2, 3]),
    ],
)
def test_answers_are_read_generously(answer, order):
    assert parse_order(answer, len(DOCUMENTS)) == order


@pytest.mark.parametrize(
    "answer", [None, "", "I cannot rank these.", "[]", "[9, 10]", '["x"]', "[1, 2", "<think>[1]"]
)
def test_answers_without_an_order_are_none(answer):
    assert parse_order(answer, len(DOCUMENTS)) is None


def test_rank_scores_fall_from_one_and_stay_positive():
    scores = [rank_score(rank, 4) for rank in range(4)]
    assert scores == [1.0, 0.75, 0.5, 0.25]
    assert all(0 < score <= 1 for score in scores)


def _chat(upstream):
    settings = cases.openai_settings(upstream)
    return functools.partial(OpenAICompatibleProvider().chat, settings=settings)


def test_rerank_prompts_with_numbered_passages_and_reorders(upstream):
    upstream.script("chat", stub.text("[3, 1]"))
    request = RerankRequest(model="stub-chat", query="which letter", documents=DOCUMENTS)
    answer = listwise_rerank.rerank(request, _chat(upstream))
    assert [r.index for r in answer.results] == [2, 0, 1, 3]
    assert [r.score for r in answer.results] == [1.0, 0.75, 0.5, 0.25]
    assert answer.usage is not None and answer.usage.output_tokens > 0
    sent = upstream.requests_for("chat")[-1].body
    assert sent["temperature"] == 0 and sent["max_tokens"] == listwise_rerank.ANSWER_TOKENS
    assert sent["messages"][0]["role"] == "system"
    asked = sent["messages"][1]["content"]
    assert "Query: which letter" in asked
    assert "[1] alpha text" in asked and "[4] delta text" in asked


def test_top_n_and_an_answer_without_an_order(upstream, caplog):
    upstream.script("chat", stub.text("They are all relevant."))
    request = RerankRequest(model="stub-chat", query="q", documents=DOCUMENTS, top_n=2)
    with caplog.at_level(logging.WARNING, logger="plugins.listwise_rerank"):
        answer = listwise_rerank.rerank(request, _chat(upstream))
    assert [(r.index, r.score) for r in answer.results] == [(0, 1.0), (1, 0.75)]
    assert "original order is kept" in caplog.text


def test_only_the_window_is_shown_and_long_passages_are_cut(upstream):
    documents = [f"passage {n} " + "word " * 500 for n in range(WINDOW + 5)]
    upstream.script("chat", stub.text(f"[{WINDOW}]"))
    request = RerankRequest(model="stub-chat", query="q", documents=documents)
    answer = listwise_rerank.rerank(request, _chat(upstream))
    order = [r.index for r in answer.results]
    assert order[0] == WINDOW - 1
    assert order[1:] == [n for n in range(WINDOW + 5) if n != WINDOW - 1]
    assert answer.results[-1].score == pytest.approx(1 / (WINDOW + 5))
    asked = upstream.requests_for("chat")[-1].body["messages"][1]["content"]
    assert f"[{WINDOW}] passage" in asked and f"[{WINDOW + 1}]" not in asked
    assert len(asked) < WINDOW * (listwise_rerank.PASSAGE_CHARACTERS + 20) + 500


def test_no_documents_is_no_call(upstream):
    answer = listwise_rerank.rerank(
        RerankRequest(model="stub-chat", query="q", documents=[]), _chat(upstream)
    )
    assert answer.results == [] and upstream.requests == []


def test_upstream_errors_propagate(upstream):
    upstream.script("chat", stub.error(500, "boom"))
    request = RerankRequest(model="stub-chat", query="q", documents=DOCUMENTS)
    with pytest.raises(UpstreamServerError):
        listwise_rerank.rerank(request, _chat(upstream))
