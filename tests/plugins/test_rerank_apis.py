"""Rerank through the OpenAI-compatible and vLLM providers: the Jina/Cohere-style
``/v1/rerank`` (vLLM, Xinference, Jina), vLLM's ``/score`` and Text Embeddings Inference's
``/rerank``, against the upstream stub (no mocks)."""

import pytest

from plugins.base import (
    Capability,
    RerankRequest,
    UpstreamAuthenticationError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
)
from plugins.models.openai_compatible import (
    OpenAICompatibleProvider,
    OpenAICompatibleSettings,
    VLLMProvider,
    VLLMSettings,
)
from tests import upstream as stub
from tests.plugins import provider_cases as cases
from tests.plugins.provider_cases import KEY

provider = OpenAICompatibleProvider()
QUERY = "hotel night reimbursed"
DOCUMENTS = [
    "Flights under six hours are economy class.",
    "Hotels are reimbursed up to 150 euros a night.",
    "A hotel night is reimbursed with the invoice.",
]


def settings_for(upstream, api: str = "rerank", **overrides) -> OpenAICompatibleSettings:
    return cases.openai_settings(upstream, rerank_api=api, **overrides)


def ask(top_n: int | None = None, documents: list[str] | None = None) -> RerankRequest:
    return RerankRequest(
        model="bge-reranker-v2-m3", query=QUERY, documents=documents or DOCUMENTS, top_n=top_n
    )


def test_both_providers_declare_rerank_and_default_to_the_rerank_api():
    for cls in (OpenAICompatibleProvider, VLLMProvider):
        cls.check_contract()
        assert Capability.RERANK in cls.capabilities
    assert OpenAICompatibleSettings().rerank_api == "rerank"
    assert VLLMSettings().rerank_api == "rerank"
    described = OpenAICompatibleSettings.model_fields["rerank_api"].description
    assert all(word in described for word in ("vLLM", "Text Embeddings Inference", "/score"))
    with pytest.raises(ValueError):
        OpenAICompatibleSettings(rerank_api="cohere")


def test_the_rerank_api_sends_query_and_documents_and_reads_results(upstream):
    upstream.script("rerank", stub.scores([0.2, 0.9, 0.5]))
    answer = provider.rerank(ask(), settings_for(upstream, api_key=KEY))
    assert [(r.index, r.score) for r in answer.results] == [(1, 0.9), (2, 0.5), (0, 0.2)]
    assert answer.usage is not None and answer.usage.input_tokens > 0
    sent = upstream.requests_for("rerank")[-1]
    assert sent.path == "/v1/rerank"
    assert sent.body == {"model": "bge-reranker-v2-m3", "query": QUERY, "documents": DOCUMENTS}
    assert sent.header("authorization") == f"Bearer {KEY}"


def test_the_rerank_api_passes_top_n(upstream):
    answer = provider.rerank(ask(top_n=1), settings_for(upstream))
    assert [r.index for r in answer.results] == [2]  # most words shared with the query
    assert upstream.requests_for("rerank")[-1].body["top_n"] == 1


def test_a_base_url_without_v1_posts_to_rerank_at_the_root(upstream):
    answer = VLLMProvider().rerank(ask(), VLLMSettings(base_url=upstream.base_url, max_retries=0))
    assert answer.results[0].index == 2
    assert upstream.requests_for("rerank")[-1].path == "/rerank"


def test_vllm_score_api_pairs_the_query_with_each_document(upstream):
    upstream.script("score", stub.scores([0.7, 0.1, 0.4]))
    answer = VLLMProvider().rerank(ask(top_n=2), settings_for(upstream, "score"))
    assert [(r.index, r.score) for r in answer.results] == [(0, 0.7), (2, 0.4)]
    assert answer.usage is not None and answer.usage.input_tokens > 0
    sent = upstream.requests_for("score")[-1]
    assert sent.path == "/score"  # beside /v1, not under it
    assert sent.body == {"model": "bge-reranker-v2-m3", "text_1": QUERY, "text_2": DOCUMENTS}


def test_tei_rerank_api_sends_texts_and_reads_a_bare_list(upstream):
    answer = provider.rerank(ask(), settings_for(upstream, "tei"))
    assert [r.index for r in answer.results] == [2, 1, 0]
    assert answer.usage is None  # TEI says nothing: the platform counts
    sent = upstream.requests_for("rerank")[-1]
    assert sent.path == "/rerank"
    assert sent.body == {"query": QUERY, "texts": DOCUMENTS, "truncate": True}


def test_no_documents_is_no_request(upstream):
    answer = provider.rerank(
        ask(documents=[]).model_copy(update={"documents": []}), settings_for(upstream)
    )
    assert answer.results == []
    assert upstream.requests == []


@pytest.mark.parametrize("api", ["rerank", "score", "tei"])
@pytest.mark.parametrize(
    ("reply", "kind", "status"),
    [
        (
            stub.error(400, "query is too long", code="invalid_request"),
            UpstreamBadRequestError,
            400,
        ),
        (stub.error(404, "The model `x` does not exist."), UpstreamBadRequestError, 404),
        (stub.error(401, "bad key"), UpstreamAuthenticationError, 401),
        (stub.error(429, "slow down", retry_after=3), UpstreamRateLimitError, 429),
        (stub.error(500, "CUDA out of memory"), UpstreamServerError, 500),
        (stub.error(503, "loading"), UpstreamServerError, 503),
    ],
)
def test_status_errors_map_to_upstream_errors(upstream, api, reply, kind, status):
    route = "score" if api == "score" else "rerank"
    upstream.script(route, reply)
    with pytest.raises(kind) as caught:
        provider.rerank(ask(), settings_for(upstream, api))
    assert caught.value.status == status
    assert "127.0.0.1" in caught.value.message


def test_a_timeout_and_a_dropped_connection_are_mapped(upstream):
    upstream.script("rerank", stub.slow(3))
    with pytest.raises(UpstreamTimeoutError):
        provider.rerank(ask(), settings_for(upstream, timeout_seconds=1))
    upstream.script("rerank", stub.hang_up())
    with pytest.raises(UpstreamConnectionError):
        provider.rerank(ask(), settings_for(upstream))


def test_a_server_with_no_rerank_route_is_a_bad_request(upstream):
    # /score on a server that only has /v1/rerank (the stub answers 404 for a route it lacks).
    settings = cases.openai_settings(upstream, base_url=f"{upstream.base_url}/other/v1")
    with pytest.raises(UpstreamBadRequestError) as caught:
        provider.rerank(ask(), settings.model_copy(update={"rerank_api": "score"}))
    assert caught.value.status == 404


@pytest.mark.parametrize(
    ("api", "body"),
    [
        ("rerank", {"data": [{"index": 0, "score": 1}]}),  # a /score answer to /rerank
        ("score", {"results": [{"index": 0, "relevance_score": 1}]}),
        ("tei", {"results": []}),
        ("rerank", {"results": [{"index": 7, "relevance_score": 0.5}]}),
        ("rerank", {"results": [{"index": True, "relevance_score": 0.5}]}),
        ("rerank", {"results": [{"index": 0, "relevance_score": "high"}]}),
        ("rerank", {"results": [{"index": 0}]}),
        ("rerank", {"results": ["0"]}),
        ("rerank", "not json at all"),
    ],
)
def test_answers_of_another_shape_are_server_errors(upstream, api, body):
    upstream.script("score" if api == "score" else "rerank", stub.raw(200, body))
    with pytest.raises(UpstreamServerError):
        provider.rerank(ask(), settings_for(upstream, api))


def test_a_json_content_type_with_a_broken_body_is_a_server_error(upstream):
    upstream.script(
        "rerank", stub.raw(200, b"{results", headers={"Content-Type": "application/json"})
    )
    with pytest.raises(UpstreamServerError):
        provider.rerank(ask(), settings_for(upstream))


def test_xinference_usage_in_meta_is_read(upstream):
    upstream.script(
        "rerank",
        stub.raw(
            200,
            {
                "id": "x",
                "results": [{"index": 1, "relevance_score": 0.8, "document": None}],
                "meta": {"tokens": {"input_tokens": 42, "output_tokens": 0}},
            },
        ),
    )
    answer = provider.rerank(ask(), settings_for(upstream))
    assert [(r.index, r.score) for r in answer.results] == [(1, 0.8)]
    assert answer.usage is not None and answer.usage.input_tokens == 42


def test_the_key_echoed_in_an_error_is_scrubbed(upstream):
    upstream.script("rerank", stub.error(401, f"Incorrect API key provided: {KEY}."))
    with pytest.raises(UpstreamAuthenticationError) as caught:
        provider.rerank(ask(), settings_for(upstream, api_key=KEY))
    assert KEY not in str(caught.value) and KEY not in caught.value.caller_message("r")
