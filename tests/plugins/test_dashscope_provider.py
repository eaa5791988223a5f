"""The native DashScope provider, through the official SDK, against the upstream stub (no
mocks)."""

import functools
import inspect
import json
import threading
import time
import traceback

import dashscope
import pytest
from dashscope.api_entities.api_request_factory import _build_api_request
from dashscope.client.base_api import BaseApi
from pydantic import ValidationError

from plugins import retrying
from plugins.base import (
    Capability,
    ChatMessage,
    ChatRequest,
    EmbeddingRequest,
    RerankRequest,
    RerankResult,
    ToolCall,
    UpstreamAuthenticationError,
    UpstreamBadRequestError,
    UpstreamConnectionError,
    UpstreamError,
    UpstreamRateLimitError,
    UpstreamServerError,
    UpstreamTimeoutError,
    secret_fields,
)
from plugins.models import dashscope_native
from plugins.models.dashscope_native import (
    DEFAULT_BASE_URL,
    RESERVED_EXTRA_KEYS,
    DashScopeProvider,
    DashScopeSettings,
)
from tests import upstream as stub
from tests.plugins import provider_cases as cases
from tests.plugins.provider_cases import KEY

GENERATION = "dashscope.generation"
EMBEDDING = "dashscope.embedding"
RERANK = "dashscope.rerank"
provider = DashScopeProvider()
settings_for = cases.dashscope_settings
ask = functools.partial(cases.chat_request, "qwen-plus")


def embed_request(inputs, **fields) -> EmbeddingRequest:
    return EmbeddingRequest(model="text-embedding-v4", inputs=inputs, **fields)


# --- the contract and settings -------------------------------------------------------------------


def test_the_provider_satisfies_the_contract():
    DashScopeProvider.check_contract()
    assert DashScopeProvider.capabilities == {
        Capability.CHAT,
        Capability.CHAT_STREAM,
        Capability.TOOL_CALLS,
        Capability.EMBEDDINGS,
        Capability.RERANK,
    }
    assert DashScopeProvider.display_name == "Alibaba Cloud DashScope (百炼)"
    assert DashScopeProvider.Settings is DashScopeSettings
    assert secret_fields(DashScopeSettings) == {"api_key"}
    assert inspect.isgeneratorfunction(DashScopeProvider.chat_stream)


def test_settings_defaults_and_bounds():
    settings = DashScopeSettings(api_key=KEY)
    assert settings.base_url == DEFAULT_BASE_URL == "https://dashscope.aliyuncs.com/api/v1"
    assert (settings.timeout_seconds, settings.embedding_batch_size) == (60, 10)
    assert settings.max_retries == 2
    assert settings.workspace is None
    assert KEY not in repr(settings)
    intl = DashScopeSettings(api_key=KEY, base_url="https://dashscope-intl.aliyuncs.com/api/v1/")
    assert intl.base_url == "https://dashscope-intl.aliyuncs.com/api/v1"
    # a bare host gets the native API root
    assert DashScopeSettings(api_key=KEY, base_url="https://h").base_url == "https://h/api/v1"
    for bad in (
        {"timeout_seconds": 0.5},
        {"timeout_seconds": 601},
        {"embedding_batch_size": 0},
        {"embedding_batch_size": 26},
        {"max_retries": -1},
        {"max_retries": 11},
        {"base_uri": "typo"},
    ):
        with pytest.raises(ValidationError):
            DashScopeSettings(api_key=KEY, **bad)


def test_settings_need_an_api_key():
    for missing in ({}, {"api_key": ""}, {"api_key": "   "}):
        with pytest.raises(ValidationError, match="api_key"):
            DashScopeSettings(**missing)


@pytest.mark.parametrize(
    ("base_url", "complaint"),
    [
        ("dashscope.aliyuncs.com/api/v1", "http:// or https://"),
        ("ftp://dashscope.aliyuncs.com/api/v1", "http:// or https://"),
        ("http:///api/v1", "http:// or https://"),
        ("https://user:hunter2@dashscope.aliyuncs.com/api/v1", "must not contain credentials"),
        ("https://dashscope.aliyuncs.com/compatible-mode/v1", "OpenAI-compatible endpoint"),
    ],
)
def test_bad_base_urls_are_refused(base_url, complaint):
    with pytest.raises(ValidationError, match=complaint):
        DashScopeSettings(api_key=KEY, base_url=base_url)


def test_workspace_settings():
    assert DashScopeSettings(api_key=KEY, workspace=" ws-1_a ").workspace == "ws-1_a"
    assert DashScopeSettings(api_key=KEY, workspace="").workspace is None
    for bad in ("ws 1", "ws\r\nX-Evil: 1", "-ws", "a" * 65):
        with pytest.raises(ValidationError, match="workspace"):
            DashScopeSettings(api_key=KEY, workspace=bad)
    templated = "https://{workspace_id}.maas.example.com/api/v1"
    with pytest.raises(ValidationError, match="set workspace"):
        DashScopeSettings(api_key=KEY, base_url=templated)
    settings = DashScopeSettings(api_key=KEY, base_url=templated, workspace="ws1")
    assert dashscope_native._base_address(settings) == "https://ws1.maas.example.com/api/v1"
    assert dashscope_native._host(settings) == "ws1.maas.example.com"


def test_reserved_extra_keys_cover_everything_the_sdk_treats_as_transport():
    transport = set(inspect.signature(_build_api_request).parameters)
    transport |= set(inspect.signature(BaseApi.call).parameters)
    assert transport - {"cls", "kwargs"} <= RESERVED_EXTRA_KEYS


# --- chat ---------------------------------------------------------------------------------------


def test_chat_text_and_usage(upstream):
    upstream.script(GENERATION, stub.text("Paris.", prompt_tokens=12, completion_tokens=3))
    response = provider.chat(ask("Capital of France?"), settings_for(upstream))
    assert response.message == ChatMessage(role="assistant", content="Paris.")
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 3)
    request = upstream.requests_for(GENERATION)[-1]
    assert request.header("authorization") == f"Bearer {KEY}"
    assert not request.streaming
    assert request.body["model"] == "qwen-plus"
    assert request.body["input"] == {
        "messages": [{"role": "user", "content": "Capital of France?"}]
    }
    assert request.body["parameters"] == {"result_format": "message"}


def test_chat_sends_parameters_and_extra(upstream):
    request = ask(**cases.PARAMETERS, extra={"seed": 7, "enable_thinking": False})
    provider.chat(request, settings_for(upstream))
    assert upstream.requests_for(GENERATION)[-1].body["parameters"] == {
        "result_format": "message",
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 64,
        "stop": ["\n\n"],
        "seed": 7,
        "enable_thinking": False,
    }


@pytest.mark.parametrize(
    "extra",
    [
        {"base_address": "http://attacker.example/api/v1"},
        {"api_key": "sk-other"},
        {"headers": {"Authorization": "Bearer x"}},
        {"stream": True, "messages": []},
        {"session": None},
    ],
)
def test_extra_cannot_override_the_request_or_the_transport(upstream, extra):
    with pytest.raises(ValueError, match="extra may not set"):
        provider.chat(ask(extra=extra), settings_for(upstream))
    with pytest.raises(ValueError, match="extra may not set"):
        next(provider.chat_stream(ask(extra=extra), settings_for(upstream)))
    assert upstream.requests == []


def test_chat_without_messages_is_refused_before_sending(upstream):
    with pytest.raises(ValueError, match="at least one message"):
        provider.chat(ChatRequest(model="qwen-plus", messages=[]), settings_for(upstream))
    assert upstream.requests == []


def test_chat_with_tools_maps_tool_calls(upstream):
    upstream.script(
        GENERATION, stub.tool_call("calculator", {"expression": "6*7"}, call_id="call_9")
    )
    response = provider.chat(ask("6 times 7?", tools=cases.TOOLS), settings_for(upstream))
    assert response.finish_reason == "tool_calls"
    assert response.message.content is None
    assert response.message.tool_calls == [
        ToolCall(id="call_9", name="calculator", arguments='{"expression": "6*7"}')
    ]
    assert upstream.requests_for(GENERATION)[-1].body["parameters"]["tools"] == cases.TOOLS_SENT


def test_a_conversation_with_tool_calls_and_results_is_sent_as_dashscope_messages(upstream):
    upstream.script(GENERATION, stub.text("42, at noon."))
    response = provider.chat(
        ChatRequest(model="qwen-plus", messages=cases.TOOL_CONVERSATION), settings_for(upstream)
    )
    assert response.message.content == "42, at noon."
    assert upstream.requests_for(GENERATION)[-1].body["input"]["messages"] == [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "6*7, and the time?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": cases.TOOL_CALLS_SENT,
        },
        {"role": "tool", "content": "42", "tool_call_id": "call_a", "name": "calculator"},
        {"role": "tool", "content": "12:00", "tool_call_id": "call_b", "name": "now"},
    ]


def test_the_workspace_header_is_sent_on_every_route(upstream):
    settings = settings_for(upstream, workspace="ws-sub-1")
    provider.chat(ask(), settings)
    list(provider.chat_stream(ask(), settings))
    provider.embed(embed_request(["a"]), settings)
    provider.rerank(RerankRequest(model="gte-rerank", query="a", documents=["a"]), settings)
    assert len(upstream.requests) == 4
    assert {r.header("x-dashscope-workspace") for r in upstream.requests} == {"ws-sub-1"}
    provider.chat(ask(), settings_for(upstream))
    assert upstream.requests[-1].header("x-dashscope-workspace") is None


# --- streaming ----------------------------------------------------------------------------------


def test_stream_yields_the_first_chunk_before_the_upstream_finishes(upstream):
    upstream.script(GENERATION, stub.stream(["The ", "answer ", "is ", "42."], delay=0.15))
    arrivals = cases.timed(provider.chat_stream(ask(), settings_for(upstream)))
    first_at = arrivals[0][0]
    assert [c.content for _, c in arrivals] == ["The ", "answer ", "is ", "42.", ""]
    # 3 gaps + 1 before the end, 0.15 s each: 0.6 s, less some scheduling slack
    assert arrivals[-1][0] - first_at >= 0.4
    request = upstream.requests_for(GENERATION)[-1]
    cases.wait_finished(request)
    assert first_at < request.finished_at - 0.4
    assert request.streaming  # X-DashScope-SSE: enable
    assert request.body["parameters"]["incremental_output"] is True
    assert request.body["parameters"]["result_format"] == "message"


def _sse(*events: tuple[str, dict]) -> str:
    return "".join(
        f"id:{n}\nevent:{kind}\n:HTTP_STATUS/200\ndata:{json.dumps(data)}\n\n"
        for n, (kind, data) in enumerate(events, 1)
    )


def _delta(content="", calls=None, finish="null") -> dict:
    message = {"role": "assistant", "content": content}
    if calls is not None:
        message["tool_calls"] = calls
    choice = {"message": message, "finish_reason": finish}
    return {"output": {"choices": [choice]}, "request_id": "r"}


def test_stream_tool_call_fragments_are_joined(upstream):
    head = {"index": 0, "id": "call_x", "type": "function"}
    body = _sse(
        ("result", _delta(calls=[head | {"function": {"name": "calc", "arguments": '{"a"'}}])),
        ("result", _delta(calls=[{"index": 0, "id": "", "function": {"arguments": ": 1}"}}])),
        ("result", _delta(finish="tool_calls")),
    )
    upstream.script(GENERATION, stub.raw(200, body, headers={"Content-Type": "text/event-stream"}))
    chunks = list(provider.chat_stream(ask(), settings_for(upstream)))
    assert chunks[-1].tool_calls == [ToolCall(id="call_x", name="calc", arguments='{"a": 1}')]
    assert chunks[-1].finish_reason == "tool_calls"


def test_closing_a_stream_early_closes_the_connection(upstream):
    upstream.script(GENERATION, stub.stream([f"w{i} " for i in range(8)], delay=0.05))
    chunks = provider.chat_stream(ask(), settings_for(upstream))
    assert next(chunks).content == "w0 "
    chunks.close()
    # Left open, the stub would write the rest (0.4 s) and note the end; closed, its next
    # writes fail and it drops the request unfinished.
    time.sleep(0.7)
    assert upstream.requests_for(GENERATION)[-1].finished_at is None
    assert provider.chat(ask("again"), settings_for(upstream)).message.content == "echo: again"


def test_an_error_event_mid_stream_is_mapped_by_its_code(upstream):
    failure = {"code": "InternalError.Algo", "message": "engine overloaded", "request_id": "r"}
    body = _sse(("result", _delta("Hi")), ("error", failure))
    upstream.script(GENERATION, stub.raw(200, body, headers={"Content-Type": "text/event-stream"}))
    received = []
    with pytest.raises(UpstreamServerError, match="engine overloaded") as caught:
        cases.contents_until_error(provider.chat_stream(ask(), settings_for(upstream)), received)
    assert received == ["Hi"]
    assert caught.value.code == "InternalError.Algo"


def test_stream_errors_before_the_first_chunk_are_mapped(upstream):
    upstream.script(GENERATION, stub.error(429, "Requests rate limit exceeded", retry_after=3))
    with pytest.raises(UpstreamRateLimitError) as caught:
        next(provider.chat_stream(ask(), settings_for(upstream)))
    assert (caught.value.retry_after, caught.value.code) == (3, "Throttling.RateQuota")


def test_a_stream_that_stalls_times_out_between_pieces(upstream):
    upstream.script(GENERATION, stub.stream(["first ", "second"], delay=3))
    received = []
    started = time.monotonic()
    with pytest.raises(UpstreamTimeoutError, match="did not answer within 1 s"):
        cases.contents_until_error(
            provider.chat_stream(ask(), settings_for(upstream, timeout_seconds=1)), received
        )
    assert received == ["first "]
    assert time.monotonic() - started < 2.5


# --- embeddings ---------------------------------------------------------------------------------


def test_embeddings_in_input_order_with_usage_and_text_type(upstream):
    inputs = ["first text", "second", "first text", "third one here"]
    response = provider.embed(embed_request(inputs), settings_for(upstream))
    assert len(response.vectors) == 4
    for vector, value in zip(response.vectors, inputs, strict=True):
        assert vector == pytest.approx(stub.vector_for(value, 64), abs=1e-6)
    assert response.usage.input_tokens == 8
    body = upstream.requests_for(EMBEDDING)[-1].body
    assert body["input"] == {"texts": inputs}
    assert body["parameters"] == {"text_type": "document"}
    provider.embed(embed_request(["q"], input_type="query"), settings_for(upstream))
    assert upstream.requests_for(EMBEDDING)[-1].body["parameters"] == {"text_type": "query"}


@pytest.mark.parametrize(
    ("model", "batch_size"),
    [("text-embedding-v4", 10), ("text-embedding-v3", 25), ("text-embedding-v2", 10)],
)
def test_embeddings_are_sent_in_batches_in_order(upstream, model, batch_size):
    inputs = [f"text number {i}" for i in range(23)]
    response = provider.embed(
        EmbeddingRequest(model=model, inputs=inputs),
        settings_for(upstream, embedding_batch_size=batch_size),
    )
    sent = [r.body["input"]["texts"] for r in upstream.requests_for(EMBEDDING)]
    # v3/v4 take at most 10 a request, whatever the settings say
    assert [len(batch) for batch in sent] == [10, 10, 3]
    assert [text for batch in sent for text in batch] == inputs
    assert [v for v in response.vectors] == [
        pytest.approx(stub.vector_for(value, 64), abs=1e-6) for value in inputs
    ]
    assert response.usage.input_tokens == 3 * 23


def test_v1_and_v2_models_take_25_a_batch(upstream):
    inputs = [f"t{i}" for i in range(30)]
    settings = settings_for(upstream, embedding_batch_size=25)
    provider.embed(EmbeddingRequest(model="text-embedding-v2", inputs=inputs), settings)
    assert [len(r.body["input"]["texts"]) for r in upstream.requests_for(EMBEDDING)] == [25, 5]


def test_embeddings_of_nothing_do_not_call_upstream(upstream):
    response = provider.embed(embed_request([]), settings_for(upstream))
    assert response.vectors == []
    assert upstream.requests == []


def test_embeddings_count_mismatch_is_a_server_error(upstream):
    upstream.script(EMBEDDING, stub.vectors([[1.0, 0.0]]))
    with pytest.raises(UpstreamServerError, match="returned 1 vectors for 2 inputs"):
        provider.embed(embed_request(["a", "b"]), settings_for(upstream))


def test_an_embedding_batch_failing_fails_the_call(upstream):
    upstream.script(EMBEDDING, None, stub.error(429, "slow down", retry_after=2))
    with pytest.raises(UpstreamRateLimitError) as caught:
        provider.embed(embed_request([f"t{i}" for i in range(15)]), settings_for(upstream))
    assert caught.value.retry_after == 2
    assert len(upstream.requests_for(EMBEDDING)) == 2


# --- rerank -------------------------------------------------------------------------------------


def test_rerank_best_first_with_usage(upstream):
    documents = ["cats and dogs", "the capital of france is paris", "paris", "nothing here"]
    response = provider.rerank(
        RerankRequest(model="gte-rerank-v2", query="capital of france", documents=documents),
        settings_for(upstream),
    )
    assert [r.index for r in response.results] == [1, 0, 2, 3]
    scores_ = [r.score for r in response.results]
    assert scores_ == sorted(scores_, reverse=True)
    assert response.results[0].score > 0
    assert response.usage.input_tokens > 0
    body = upstream.requests_for(RERANK)[-1].body
    assert body["input"] == {"query": "capital of france", "documents": documents}
    assert body["model"] == "gte-rerank-v2"


def test_rerank_top_n_and_scripted_scores(upstream):
    upstream.script(RERANK, stub.scores([0.1, 0.9, 0.5]))
    response = provider.rerank(
        RerankRequest(model="gte-rerank", query="q", documents=["a", "b", "c"], top_n=2),
        settings_for(upstream),
    )
    assert response.results == [RerankResult(index=1, score=0.9), RerankResult(index=2, score=0.5)]
    assert upstream.requests_for(RERANK)[-1].body["parameters"] == {"top_n": 2}


def test_rerank_results_are_sorted_even_when_the_server_does_not(upstream):
    results = [{"index": 0, "relevance_score": 0.2}, {"index": 1, "relevance_score": 0.7}]
    upstream.script(RERANK, stub.raw(200, {"output": {"results": results}, "request_id": "r"}))
    response = provider.rerank(
        RerankRequest(model="gte-rerank", query="q", documents=["a", "b"]),
        settings_for(upstream),
    )
    assert [r.index for r in response.results] == [1, 0]
    assert response.usage is None


def test_rerank_of_nothing_does_not_call_upstream(upstream):
    response = provider.rerank(
        RerankRequest(model="gte-rerank", query="q", documents=[]), settings_for(upstream)
    )
    assert response.results == []
    assert upstream.requests == []


# --- errors -------------------------------------------------------------------------------------

OPERATIONS = {
    "chat": lambda s: provider.chat(ask(), s),
    "stream": lambda s: list(provider.chat_stream(ask(), s)),
    "embed": lambda s: provider.embed(embed_request(["a"]), s),
    "rerank": lambda s: provider.rerank(
        RerankRequest(model="gte-rerank", query="q", documents=["a"]), s
    ),
}


@pytest.mark.parametrize("upstream", [{"api_key": "sk-the-right-one"}], indirect=True)
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_401_is_an_authentication_error_without_the_key(upstream, operation):
    with pytest.raises(UpstreamAuthenticationError) as caught:
        OPERATIONS[operation](settings_for(upstream))
    exc = caught.value
    assert (exc.status, exc.code, exc.retryable) == (401, "InvalidApiKey", False)
    assert exc.upstream == f"127.0.0.1:{upstream.port}"
    assert f"127.0.0.1:{upstream.port}" in str(exc)
    assert "refused the credentials" in str(exc)
    # the stub echoed the key it was sent; the provider scrubbed it
    assert upstream.requests[-1].header("authorization") == f"Bearer {KEY}"
    assert "Incorrect API key provided: ***" in str(exc)
    assert KEY not in "".join(traceback.format_exception(exc))


@pytest.mark.parametrize(
    ("reply", "kind", "status", "code"),
    [
        (stub.error(403, "Access denied."), UpstreamAuthenticationError, 403, "AccessDenied"),
        (stub.error(429, "Too many", code="Throttling"), UpstreamRateLimitError, 429, "Throttling"),
        (
            stub.error(400, "Allocated quota exceeded", code="Throttling.AllocationQuota"),
            UpstreamRateLimitError,
            400,
            "Throttling.AllocationQuota",
        ),
        (stub.error(400, "top_p out of range"), UpstreamBadRequestError, 400, "InvalidParameter"),
        (stub.error(404, "Model not exist."), UpstreamBadRequestError, 404, "ModelNotFound"),
        (
            stub.error(
                400, "Input data may contain inappropriate content.", code="DataInspectionFailed"
            ),
            UpstreamBadRequestError,
            400,
            "DataInspectionFailed",
        ),
        (
            stub.error(500, "An internal error has occured"),
            UpstreamServerError,
            500,
            "InternalError",
        ),
        (stub.error(503, "Overloaded", code="ServiceUnavailable"), UpstreamServerError, 503, None),
        (stub.raw(502, "<html>Bad Gateway</html>"), UpstreamServerError, 502, None),
        (
            stub.error(500, "Request timed out", code="RequestTimeOut"),
            UpstreamTimeoutError,
            500,
            None,
        ),
    ],
)
def test_status_errors_are_mapped(upstream, reply, kind, status, code):
    upstream.script(GENERATION, reply)
    with pytest.raises(UpstreamError) as caught:
        provider.chat(ask(), settings_for(upstream))
    exc = caught.value
    assert type(exc) is kind
    assert exc.status == status
    if code is not None:
        assert exc.code == code
        assert code in str(exc)
    assert exc.upstream == f"127.0.0.1:{upstream.port}"


def test_429_is_a_rate_limit_with_retry_after(upstream):
    upstream.script(GENERATION, stub.error(429, "Requests rate limit exceeded", retry_after=7))
    with pytest.raises(UpstreamRateLimitError) as caught:
        provider.chat(ask(), settings_for(upstream))
    exc = caught.value
    assert (exc.status, exc.retry_after, exc.retryable) == (429, 7, True)
    assert "Requests rate limit exceeded" in str(exc)
    upstream.script(RERANK, stub.error(429, "slow down"))
    with pytest.raises(UpstreamRateLimitError) as caught:
        OPERATIONS["rerank"](settings_for(upstream))
    assert caught.value.retry_after is None


def test_html_error_bodies_are_quoted_briefly(upstream):
    upstream.script(GENERATION, stub.raw(502, "<html>Bad\n\n  Gateway</html>"))
    with pytest.raises(UpstreamServerError, match=r"failed \(HTTP 502\): <html>Bad Gateway"):
        provider.chat(ask(), settings_for(upstream))


def test_an_answer_that_is_not_json_is_a_server_error(upstream):
    upstream.script(
        GENERATION, stub.raw(200, "<html>", headers={"Content-Type": "application/json"})
    )
    with pytest.raises(UpstreamServerError, match="not JSON"):
        provider.chat(ask(), settings_for(upstream))


def test_connection_refused_is_a_connection_error():
    settings = DashScopeSettings(
        api_key=KEY,
        base_url=f"http://127.0.0.1:{cases.closed_port()}/api/v1",
        max_retries=0,
        timeout_seconds=2,
    )
    for operation in OPERATIONS.values():
        with pytest.raises(UpstreamConnectionError, match="Connection refused") as caught:
            operation(settings)
        assert "Cannot reach model server 127.0.0.1" in str(caught.value)
        assert not isinstance(caught.value, UpstreamTimeoutError)


def test_hang_up_is_a_connection_error(upstream):
    # The SDK resends once when the connection drops before an answer, so hang up twice.
    upstream.script(GENERATION, stub.hang_up(), stub.hang_up())
    with pytest.raises(UpstreamConnectionError, match="closed without an answer"):
        provider.chat(ask(), settings_for(upstream))
    assert len(upstream.requests_for(GENERATION)) == 2


@pytest.mark.parametrize("reply", cases.KEY_ECHOING_ERRORS)
@pytest.mark.parametrize("operation", ["chat", "stream"])
def test_the_key_never_appears_in_errors(upstream, reply, operation):
    upstream.script(GENERATION, reply)
    with pytest.raises(UpstreamError) as caught:
        OPERATIONS[operation](settings_for(upstream))
    assert KEY not in "".join(traceback.format_exception(caught.value))
    assert KEY not in repr(caught.value.args)
    assert "***" in str(caught.value)


# --- retries: the kit's one policy, as the OpenAI-compatible provider's SDK retries -----------


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """The waits before retries, recorded instead of slept."""
    recorded: list[float] = []
    monkeypatch.setattr(retrying, "wait", recorded.append)
    return recorded


def test_a_429_with_retry_after_is_waited_out_and_retried(upstream):
    upstream.script(GENERATION, stub.error(429, "slow down", retry_after=0.05), stub.text("Hi."))
    started = time.monotonic()
    response = provider.chat(ask(), settings_for(upstream, max_retries=2))
    assert response.message.content == "Hi."
    sent = upstream.requests_for(GENERATION)
    assert len(sent) == 2
    assert sent[1].received_at - started >= 0.05
    assert sent[1].body == sent[0].body


def test_a_503_twice_then_success_backs_off_and_succeeds(upstream, waits):
    upstream.script(GENERATION, *[stub.error(503, "Overloaded")] * 2, stub.text("Hi."))
    response = provider.chat(ask(), settings_for(upstream, max_retries=2))
    assert response.message.content == "Hi."
    assert len(upstream.requests_for(GENERATION)) == 3
    # no Retry-After: 0.5 s, then 1 s, each less up to 25 %
    assert len(waits) == 2
    assert 0.375 <= waits[0] <= 0.5 and 0.75 <= waits[1] <= 1.0


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504])
def test_transient_statuses_are_retried(upstream, waits, status):
    upstream.script(GENERATION, stub.error(status, "try later"), stub.text("Hi."))
    response = provider.chat(ask(), settings_for(upstream, max_retries=1))
    assert response.message.content == "Hi."
    assert len(upstream.requests_for(GENERATION)) == 2


@pytest.mark.parametrize(
    "reply",
    [
        stub.error(400, "top_p out of range"),
        stub.error(400, "Allocated quota exceeded", code="Throttling.AllocationQuota"),
        stub.error(401, "Invalid API-key provided."),
        stub.error(403, "Access denied."),
        stub.error(404, "Model not exist."),
    ],
)
def test_a_refused_request_is_not_retried(upstream, waits, reply):
    upstream.script(GENERATION, reply, stub.text("never sent"))
    with pytest.raises(UpstreamError) as caught:
        provider.chat(ask(), settings_for(upstream, max_retries=2))
    assert caught.value.status == reply.status
    assert len(upstream.requests_for(GENERATION)) == 1
    assert waits == []


def test_max_retries_0_does_not_retry(upstream):
    upstream.script(GENERATION, stub.error(429, "slow down", retry_after=0.05), stub.text("Hi."))
    with pytest.raises(UpstreamRateLimitError) as caught:
        provider.chat(ask(), settings_for(upstream, max_retries=0))
    assert caught.value.retry_after == 0.05
    assert len(upstream.requests_for(GENERATION)) == 1


def test_when_the_retries_run_out_the_last_failure_is_raised(upstream, waits):
    upstream.script(
        GENERATION,
        stub.error(503, "Overloaded"),
        stub.error(500, "still broken"),
        stub.error(429, "and now slow down", retry_after=2),
        stub.text("never sent"),
    )
    with pytest.raises(UpstreamRateLimitError, match="and now slow down") as caught:
        provider.chat(ask(), settings_for(upstream, max_retries=2))
    assert caught.value.retry_after == 2
    assert len(upstream.requests_for(GENERATION)) == 3
    assert len(waits) == 2


def test_a_retry_after_beyond_two_minutes_is_not_waited_for(upstream, waits):
    upstream.script(GENERATION, stub.error(429, "come back tomorrow", retry_after=121))
    with pytest.raises(UpstreamRateLimitError) as caught:
        provider.chat(ask(), settings_for(upstream, max_retries=2))
    assert caught.value.retry_after == 121
    assert len(upstream.requests_for(GENERATION)) == 1
    assert waits == []


def test_a_server_that_does_not_answer_is_tried_again(waits):
    settings = DashScopeSettings(
        api_key=KEY,
        base_url=f"http://127.0.0.1:{cases.closed_port()}/api/v1",
        max_retries=2,
        timeout_seconds=2,
    )
    for operation in OPERATIONS.values():
        waits.clear()
        with pytest.raises(UpstreamConnectionError, match="Connection refused"):
            operation(settings)
        assert len(waits) == 2


def test_a_timeout_is_tried_again(upstream):
    upstream.script(GENERATION, stub.slow(3), stub.text("Hi."))
    started = time.monotonic()
    response = provider.chat(ask(), settings_for(upstream, max_retries=1, timeout_seconds=1))
    assert response.message.content == "Hi."
    assert len(upstream.requests_for(GENERATION)) == 2
    assert time.monotonic() - started < 2.5


def test_a_stream_that_fails_before_its_first_chunk_is_retried(upstream):
    upstream.script(
        GENERATION,
        stub.error(429, "slow down", retry_after=0.05),
        stub.error(503, "Overloaded", retry_after=0.05),
        stub.stream(["Hello ", "there."]),
    )
    chunks = list(provider.chat_stream(ask(), settings_for(upstream, max_retries=2)))
    assert [c.content for c in chunks] == ["Hello ", "there.", ""]
    assert chunks[-1].finish_reason == "stop"
    sent = upstream.requests_for(GENERATION)
    assert len(sent) == 3 and all(r.streaming for r in sent)


def test_a_stream_that_hangs_up_before_its_first_chunk_is_retried(upstream, waits):
    # The SDK itself resends once over a dropped connection; the provider's retry follows.
    upstream.script(GENERATION, stub.hang_up(), stub.hang_up(), stub.stream(["Hi."]))
    chunks = list(provider.chat_stream(ask(), settings_for(upstream, max_retries=1)))
    assert "".join(c.content for c in chunks) == "Hi."
    assert len(upstream.requests_for(GENERATION)) == 3
    assert len(waits) == 1


def test_a_stream_is_never_sent_again_once_it_began(upstream, waits):
    upstream.script(GENERATION, stub.stream(["partial "], hang_up=True), stub.text("again"))
    received = []
    with pytest.raises(UpstreamConnectionError):
        cases.contents_until_error(
            provider.chat_stream(ask(), settings_for(upstream, max_retries=2)), received
        )
    assert received == ["partial "]
    assert upstream.pending(GENERATION) == 1  # "again" was never asked for
    upstream.reset()
    failure = {"code": "InternalError.Algo", "message": "engine overloaded", "request_id": "r"}
    body = _sse(("result", _delta("Hi")), ("error", failure))
    event_stream = {"Content-Type": "text/event-stream"}
    upstream.script(GENERATION, stub.raw(200, body, headers=event_stream), stub.text("again"))
    received = []
    with pytest.raises(UpstreamServerError, match="engine overloaded"):
        cases.contents_until_error(
            provider.chat_stream(ask(), settings_for(upstream, max_retries=2)), received
        )
    assert received == ["Hi"]
    assert len(upstream.requests_for(GENERATION)) == 1
    assert waits == []


def test_a_stream_refused_before_its_first_chunk_is_not_retried(upstream, waits):
    upstream.script(GENERATION, stub.error(400, "top_p out of range"), stub.stream(["no"]))
    with pytest.raises(UpstreamBadRequestError):
        next(provider.chat_stream(ask(), settings_for(upstream, max_retries=2)))
    assert len(upstream.requests_for(GENERATION)) == 1


def test_an_embedding_batch_is_retried_alone(upstream):
    upstream.script(EMBEDDING, None, stub.error(503, "Overloaded", retry_after=0.05), None)
    inputs = [f"t{i}" for i in range(15)]
    response = provider.embed(embed_request(inputs), settings_for(upstream, max_retries=2))
    assert len(response.vectors) == 15
    sent = [r.body["input"]["texts"] for r in upstream.requests_for(EMBEDDING)]
    assert sent == [inputs[:10], inputs[10:], inputs[10:]]


def test_an_embedding_batch_that_keeps_failing_fails_the_call(upstream, waits):
    upstream.script(EMBEDDING, *[stub.error(500, "broken")] * 3)
    with pytest.raises(UpstreamServerError):
        provider.embed(embed_request(["a"]), settings_for(upstream, max_retries=2))
    assert len(upstream.requests_for(EMBEDDING)) == 3


def test_rerank_is_retried(upstream):
    upstream.script(RERANK, stub.error(429, "slow down", retry_after=0.05))
    response = provider.rerank(
        RerankRequest(model="gte-rerank", query="a", documents=["a", "b"]),
        settings_for(upstream, max_retries=1),
    )
    assert [r.index for r in response.results] == [0, 1]
    assert len(upstream.requests_for(RERANK)) == 2


def test_a_retry_is_logged_without_the_key(upstream, caplog):
    upstream.script(GENERATION, stub.error(429, f"slow down {KEY}", retry_after=0.01))
    with caplog.at_level("INFO", logger="plugins.retrying"):
        provider.chat(ask(), settings_for(upstream, max_retries=1))
    [line] = [r.getMessage() for r in caplog.records if r.name == "plugins.retrying"]
    assert line == f"Model server 127.0.0.1:{upstream.port}: HTTP 429; retry 1 of 1 in 0.01 s"
    assert KEY not in caplog.text


# --- many workspaces, one process ---------------------------------------------------------------

KEY_A = "sk-tenant-a-0123456789abcdef"
KEY_B = "sk-tenant-b-fedcba9876543210"


@pytest.mark.parametrize("upstream", [{"api_key": KEY_A}], indirect=True)
def test_two_tenants_concurrently_each_reach_only_their_endpoint_with_their_key(
    upstream, monkeypatch
):
    # What the SDK would fall back to if a call did not carry its own key and base URL.
    monkeypatch.setattr(dashscope, "api_key", "sk-of-the-operator")
    monkeypatch.setattr(
        dashscope, "base_http_api_url", f"http://127.0.0.1:{cases.closed_port()}/api/v1"
    )
    rounds = 4
    with stub.UpstreamServer(api_key=KEY_B) as other:
        tenants = {
            "a": (upstream, DashScopeSettings(api_key=KEY_A, base_url=upstream.dashscope_base_url)),
            "b": (other, DashScopeSettings(api_key=KEY_B, base_url=other.dashscope_base_url)),
        }
        for server, _ in tenants.values():  # overlap the calls
            server.script(GENERATION, *[stub.slow(0.02)] * (2 * rounds))
        barrier = threading.Barrier(len(tenants))
        answers: dict[str, list[str]] = {name: [] for name in tenants}
        failures: list[BaseException] = []

        def work(name: str) -> None:
            _, settings = tenants[name]
            try:
                barrier.wait(timeout=5)
                for n in range(rounds):
                    answers[name].append(
                        provider.chat(ask(f"{name} {n}"), settings).message.content
                    )
                    streamed = provider.chat_stream(ask(f"{name} s{n}"), settings)
                    answers[name].append("".join(c.content for c in streamed))
                    assert provider.embed(embed_request([name]), settings).vectors
            except BaseException as exc:  # reported below
                failures.append(exc)

        threads = [threading.Thread(target=work, args=(name,)) for name in tenants]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert failures == []
        for name, (server, _) in tenants.items():
            expected = [f"echo: {name} {p}{n}" for n in range(rounds) for p in ("", "s")]
            assert answers[name] == expected
            key = KEY_A if name == "a" else KEY_B
            assert len(server.requests) == 3 * rounds
            assert {r.header("authorization") for r in server.requests} == {f"Bearer {key}"}
    # and nothing was written to the SDK's globals
    assert dashscope.api_key == "sk-of-the-operator"
    assert dashscope.base_http_api_url.startswith("http://127.0.0.1:")
    assert dashscope.base_http_api_url != upstream.dashscope_base_url
