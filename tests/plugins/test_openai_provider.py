"""The OpenAI-compatible and vLLM providers, against the upstream stub (no mocks)."""

import functools
import inspect
import json
import traceback

import pytest
from pydantic import ValidationError

from plugins.base import (
    Capability,
    ChatMessage,
    ChatRequest,
    EmbeddingRequest,
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
from plugins.models import openai_compatible
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
settings_for = cases.openai_settings
ask = functools.partial(cases.chat_request, "stub-chat")


# --- the contract -------------------------------------------------------------------------------


def test_both_providers_satisfy_the_contract():
    for cls in (OpenAICompatibleProvider, VLLMProvider):
        cls.check_contract()
        assert cls.capabilities == {
            Capability.CHAT,
            Capability.CHAT_STREAM,
            Capability.TOOL_CALLS,
            Capability.EMBEDDINGS,
            Capability.RERANK,
        }
        assert secret_fields(cls.Settings) == {"api_key"}
    assert "OpenAI-compatible" in OpenAICompatibleProvider.display_name
    assert "vllm serve" in VLLMProvider.description
    assert inspect.isgeneratorfunction(OpenAICompatibleProvider.chat_stream)


def test_settings_defaults_and_bounds():
    settings = OpenAICompatibleSettings()
    assert settings.base_url == "https://api.openai.com/v1"
    assert (settings.api_key, settings.timeout_seconds, settings.max_retries) == (None, 60, 2)
    assert VLLMSettings().base_url == "http://127.0.0.1:8000/v1"
    assert issubclass(VLLMSettings, OpenAICompatibleSettings)
    for bad in ({"timeout_seconds": 0.5}, {"timeout_seconds": 601}, {"max_retries": 11}):
        with pytest.raises(ValidationError):
            OpenAICompatibleSettings(**bad)
    with pytest.raises(ValidationError):
        OpenAICompatibleSettings(base_uri="typo")
    for bad_url in ("127.0.0.1:8000/v1", "ftp://example.com/v1", "http:///v1"):
        with pytest.raises(ValidationError, match="http:// or https://"):
            OpenAICompatibleSettings(base_url=bad_url)
    assert OpenAICompatibleSettings(base_url=" http://h:1/v1/ ").base_url == "http://h:1/v1"


# --- chat ---------------------------------------------------------------------------------------


def test_chat_text_and_usage(upstream):
    upstream.script("chat", stub.text("Paris.", prompt_tokens=12, completion_tokens=3))
    response = provider.chat(ask("Capital of France?"), settings_for(upstream))
    assert response.message == ChatMessage(role="assistant", content="Paris.")
    assert response.finish_reason == "stop"
    assert (response.usage.input_tokens, response.usage.output_tokens) == (12, 3)


def test_chat_sends_parameters_and_extra(upstream):
    request = ask(**cases.PARAMETERS, extra={"seed": 7, "repetition_penalty": 1.05})
    provider.chat(request, settings_for(upstream))
    body = upstream.requests[-1].body
    assert body == {
        "model": "stub-chat",
        "messages": [{"role": "user", "content": "Hello there"}],
        "temperature": 0.2,
        "top_p": 0.9,
        "max_tokens": 64,
        "stop": ["\n\n"],
        "seed": 7,
        "repetition_penalty": 1.05,
    }


def test_extra_cannot_override_what_the_provider_sends(upstream):
    with pytest.raises(ValueError, match="extra may not set messages, stream"):
        provider.chat(ask(extra={"stream": True, "messages": []}), settings_for(upstream))
    assert upstream.requests == []


def test_chat_with_tools_maps_tool_calls(upstream):
    upstream.script("chat", stub.tool_call("calculator", {"expression": "6*7"}, call_id="call_9"))
    response = provider.chat(ask("6 times 7?", tools=cases.TOOLS), settings_for(upstream))
    assert response.finish_reason == "tool_calls"
    assert response.message.tool_calls == [
        ToolCall(id="call_9", name="calculator", arguments='{"expression": "6*7"}')
    ]
    assert upstream.requests[-1].body["tools"] == cases.TOOLS_SENT


def test_a_conversation_with_tool_calls_and_results_is_sent_as_openai_messages(upstream):
    upstream.script("chat", stub.text("42, at noon."))
    response = provider.chat(
        ChatRequest(model="m", messages=cases.TOOL_CONVERSATION), settings_for(upstream)
    )
    assert response.message.content == "42, at noon."
    assert upstream.requests[-1].body["messages"] == [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "6*7, and the time?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": cases.TOOL_CALLS_SENT,
        },
        {"role": "tool", "tool_call_id": "call_a", "content": "42"},
        {"role": "tool", "tool_call_id": "call_b", "content": "12:00"},
    ]


def test_no_key_sends_a_placeholder_and_organization_is_sent(upstream):
    provider.chat(ask(), settings_for(upstream, organization="org-1"))
    request = upstream.requests[-1]
    assert request.header("authorization") == "Bearer EMPTY"
    assert request.header("openai-organization") == "org-1"


def test_the_process_environment_does_not_leak_into_requests(upstream, monkeypatch):
    monkeypatch.setenv("OPENAI_ORG_ID", "org-of-the-operator")
    monkeypatch.setenv("OPENAI_PROJECT_ID", "proj-of-the-operator")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-of-the-operator")
    provider.chat(ask(), settings_for(upstream))
    headers = upstream.requests[-1].headers
    assert "openai-organization" not in headers
    assert "openai-project" not in headers
    assert headers["authorization"] == "Bearer EMPTY"


@pytest.mark.parametrize("upstream", [{"api_key": KEY}], indirect=True)
def test_the_configured_key_is_sent(upstream):
    assert provider.chat(ask(), settings_for(upstream, api_key=KEY)).message.content
    assert upstream.requests[-1].header("authorization") == f"Bearer {KEY}"


def test_one_client_per_configuration(upstream):
    first = openai_compatible._client(settings_for(upstream, api_key=KEY))
    assert openai_compatible._client(settings_for(upstream, api_key=KEY)) is first
    assert openai_compatible._client(settings_for(upstream, api_key="other-key")) is not first
    assert openai_compatible._client(settings_for(upstream, timeout_seconds=9)) is not first
    assert all(KEY not in repr(k) for k in openai_compatible._clients)


# --- streaming ----------------------------------------------------------------------------------


def test_stream_yields_the_first_chunk_before_the_upstream_finishes(upstream):
    upstream.script("chat", stub.stream(["The ", "answer ", "is ", "42."], delay=0.15))
    arrivals = cases.timed(provider.chat_stream(ask(), settings_for(upstream)))
    first_at = arrivals[0][0]
    assert [c.content for _, c in arrivals] == ["The ", "answer ", "is ", "42.", ""]
    # 3 gaps + 1 before the end, 0.15 s each: 0.6 s, less some scheduling slack
    assert arrivals[-1][0] - first_at >= 0.4
    request = upstream.requests[-1]
    cases.wait_finished(request)
    assert first_at < request.finished_at - 0.4
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}


def test_an_error_event_mid_stream_is_a_server_error(upstream):
    frame = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "m"}
    first = frame | {"choices": [{"index": 0, "delta": {"content": "Hi"}, "finish_reason": None}]}
    failure = {"error": {"message": "engine overloaded", "type": "server_error", "code": None}}
    body = f"data: {json.dumps(first)}\n\ndata: {json.dumps(failure)}\n\n"
    upstream.script("chat", stub.raw(200, body, headers={"Content-Type": "text/event-stream"}))
    received = []
    with pytest.raises(UpstreamServerError, match="reported an error: engine overloaded"):
        cases.contents_until_error(provider.chat_stream(ask(), settings_for(upstream)), received)
    assert received == ["Hi"]


def test_stream_errors_before_the_first_chunk_are_mapped(upstream):
    upstream.script("chat", stub.error(429, "Too many", retry_after=3))
    with pytest.raises(UpstreamRateLimitError) as caught:
        next(provider.chat_stream(ask(), settings_for(upstream)))
    assert caught.value.retry_after == 3


# --- embeddings ---------------------------------------------------------------------------------


def test_embeddings_in_input_order_with_usage(upstream):
    inputs = ["first text", "second", "first text", "third one here"]
    response = provider.embed(
        EmbeddingRequest(model="stub-embedding", inputs=inputs), settings_for(upstream)
    )
    assert len(response.vectors) == 4
    for vector, value in zip(response.vectors, inputs, strict=True):
        assert vector == pytest.approx(stub.vector_for(value, 64), abs=1e-6)
    assert response.vectors[0] == response.vectors[2]
    assert response.usage.input_tokens == 8
    assert upstream.requests[-1].body["input"] == inputs


def test_embeddings_of_nothing_do_not_call_upstream(upstream):
    response = provider.embed(EmbeddingRequest(model="e", inputs=[]), settings_for(upstream))
    assert response.vectors == []
    assert upstream.requests == []


def test_embeddings_count_mismatch_is_a_server_error(upstream):
    upstream.script(
        "embeddings",
        stub.raw(
            200,
            {
                "object": "list",
                "data": [{"object": "embedding", "index": 0, "embedding": [1.0]}],
                "model": "e",
            },
        ),
    )
    with pytest.raises(UpstreamServerError, match="returned 1 vectors for 2 inputs"):
        provider.embed(EmbeddingRequest(model="e", inputs=["a", "b"]), settings_for(upstream))


# --- errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize("upstream", [{"api_key": "sk-the-right-one"}], indirect=True)
def test_401_is_an_authentication_error_without_the_key(upstream):
    with pytest.raises(UpstreamAuthenticationError) as caught:
        provider.chat(ask(), settings_for(upstream, api_key=KEY))
    exc = caught.value
    assert (exc.status, exc.code, exc.retryable) == (401, "invalid_api_key", False)
    assert f"127.0.0.1:{upstream.port}" in str(exc)
    assert "refused the credentials" in str(exc)
    # the stub echoed the key it was sent; the provider scrubbed it
    assert "***" in str(exc)
    assert KEY not in "".join(traceback.format_exception(exc))


def test_403_is_an_authentication_error(upstream):
    upstream.script("chat", stub.error(403, "Project has no access to model"))
    with pytest.raises(UpstreamAuthenticationError, match="denied access"):
        provider.chat(ask(), settings_for(upstream))


def test_429_is_a_rate_limit_with_retry_after(upstream):
    upstream.script("chat", stub.error(429, "Rate limit reached for requests", retry_after=7))
    with pytest.raises(UpstreamRateLimitError) as caught:
        provider.chat(ask(), settings_for(upstream))
    exc = caught.value
    assert (exc.status, exc.retry_after, exc.retryable) == (429, 7, True)
    assert "Rate limit reached for requests" in str(exc)
    assert "Error code" not in str(exc)


def test_429_without_retry_after(upstream):
    upstream.script("embeddings", stub.error(429, "slow down"))
    with pytest.raises(UpstreamRateLimitError) as caught:
        provider.embed(EmbeddingRequest(model="e", inputs=["a"]), settings_for(upstream))
    assert caught.value.retry_after is None


@pytest.mark.parametrize(
    ("reply", "kind", "status"),
    [
        (stub.error(500, "The server had an error"), UpstreamServerError, 500),
        (stub.error(503, "Overloaded"), UpstreamServerError, 503),
        (stub.raw(502, "<html>Bad Gateway</html>"), UpstreamServerError, 502),
        (stub.error(400, "max_tokens is too large"), UpstreamBadRequestError, 400),
        (stub.error(404, "The model `nope` does not exist"), UpstreamBadRequestError, 404),
        (stub.error(422, "Unprocessable"), UpstreamBadRequestError, 422),
    ],
)
def test_status_errors_are_mapped(upstream, reply, kind, status):
    upstream.script("chat", reply)
    with pytest.raises(kind) as caught:
        provider.chat(ask(), settings_for(upstream))
    assert caught.value.status == status
    assert caught.value.upstream == f"127.0.0.1:{upstream.port}"


def test_html_error_bodies_are_quoted_briefly(upstream):
    upstream.script("chat", stub.raw(502, "<html>Bad Gateway</html>"))
    with pytest.raises(UpstreamServerError, match=r"failed \(HTTP 502\): <html>Bad Gateway"):
        provider.chat(ask(), settings_for(upstream))


def test_connection_refused_is_a_connection_error():
    settings = OpenAICompatibleSettings(
        base_url=f"http://127.0.0.1:{cases.closed_port()}/v1", max_retries=0, timeout_seconds=2
    )
    with pytest.raises(
        UpstreamConnectionError, match=r"Cannot reach model server 127\.0\.0\.1"
    ) as caught:
        provider.chat(ask(), settings)
    assert not isinstance(caught.value, UpstreamTimeoutError)


def test_hang_up_is_a_connection_error(upstream):
    upstream.script("chat", stub.hang_up())
    with pytest.raises(UpstreamConnectionError):
        provider.chat(ask(), settings_for(upstream))


def test_retries_follow_the_settings(upstream):
    upstream.script("chat", stub.error(429, "wait", retry_after=0.01), stub.text("after a retry"))
    response = provider.chat(ask(), settings_for(upstream, max_retries=1))
    assert response.message.content == "after a retry"
    assert len(upstream.requests_for("chat")) == 2


@pytest.mark.parametrize("reply", cases.KEY_ECHOING_ERRORS)
def test_the_key_never_appears_in_errors(upstream, reply):
    upstream.script("chat", reply)
    with pytest.raises(UpstreamError) as caught:
        provider.chat(ask(), settings_for(upstream, api_key=KEY))
    assert KEY not in "".join(traceback.format_exception(caught.value))
    assert KEY not in repr(caught.value.args)


def test_credentials_in_the_base_url_are_not_reported():
    settings = OpenAICompatibleSettings(
        base_url=f"http://user:hunter2@127.0.0.1:{cases.closed_port()}/v1", max_retries=0
    )
    with pytest.raises(UpstreamConnectionError) as caught:
        provider.chat(ask(), settings)
    assert "hunter2" not in str(caught.value)


# --- vLLM ---------------------------------------------------------------------------------------


def test_vllm_provider_talks_to_an_openai_compatible_server(upstream):
    settings = VLLMSettings(base_url=upstream.openai_base_url, max_retries=0)
    vllm = VLLMProvider()
    assert vllm.chat(ask("hi"), settings).message.content == "echo: hi"
    chunks = list(vllm.chat_stream(ask("hi"), settings))
    assert "".join(c.content for c in chunks) == "echo: hi"
    assert vllm.embed(EmbeddingRequest(model="e", inputs=["x"]), settings).vectors
