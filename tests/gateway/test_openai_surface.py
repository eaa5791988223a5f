"""The OpenAI-compatible surface, called with the official `openai` SDK, unmodified,
against the platform served by a real ASGI server (uvicorn), with the scripted upstream
behind it."""

import time

import httpx
import openai
import pytest

from apps.accounts.services import revoke_api_key
from tests.upstream import error, slow, stream, text, tool_call, vector_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def client(platform_url: str, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{platform_url}/compatible-mode/v1", api_key=key, max_retries=0)


def test_models_lists_what_the_workspace_was_granted(platform_url, granted):
    acme = client(platform_url, granted["acme_key"])
    assert sorted(m.id for m in acme.models.list()) == ["qwen-plus", "text-embedding-v3"]
    assert list(client(platform_url, granted["globex_key"]).models.list()) == []


def test_chat_completion(platform_url, granted, upstream):
    upstream.script("chat", text("Hello from upstream", prompt_tokens=7, completion_tokens=3))
    completion = client(platform_url, granted["acme_key"]).chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": "hi"}]
    )
    assert completion.choices[0].message.content == "Hello from upstream"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "qwen-plus"
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (7, 3)
    [sent] = upstream.requests_for("chat")
    assert sent.body["model"] == "up-chat"
    assert sent.body["temperature"] == 0.3  # the endpoint's default parameter


def test_chat_with_tools(platform_url, granted, upstream):
    upstream.script("chat", tool_call("get_weather", '{"city": "Hangzhou"}', call_id="call_1"))
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            },
        }
    ]
    completion = client(platform_url, granted["acme_key"]).chat.completions.create(
        model="qwen-plus", messages=[{"role": "user", "content": "weather?"}], tools=tools
    )
    [call] = completion.choices[0].message.tool_calls
    assert (call.id, call.function.name, call.function.arguments) == (
        "call_1",
        "get_weather",
        '{"city": "Hangzhou"}',
    )
    assert completion.choices[0].finish_reason == "tool_calls"
    assert upstream.requests_for("chat")[0].body["tools"][0]["function"]["name"] == "get_weather"


def test_streaming_delivers_the_first_token_before_the_upstream_finishes(
    platform_url, granted, upstream
):
    upstream.script("chat", stream(["Once", " upon", " a", " time"], delay=0.4))
    started = time.monotonic()
    chunks = client(platform_url, granted["acme_key"]).chat.completions.create(
        model="qwen-plus",
        messages=[{"role": "user", "content": "story"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    arrivals, pieces, usage = [], [], None
    for chunk in chunks:
        if chunk.choices and chunk.choices[0].delta.content:
            arrivals.append(time.monotonic() - started)
            pieces.append(chunk.choices[0].delta.content)
        if chunk.usage:
            usage = chunk.usage
    assert "".join(pieces) == "Once upon a time"
    assert arrivals[0] < 0.9 < arrivals[-1]  # the first piece did not wait for the last
    assert usage is not None and usage.completion_tokens > 0


def test_embeddings_in_the_sdks_default_base64_and_as_floats(platform_url, granted):
    acme = client(platform_url, granted["acme_key"])
    texts = ["knowledge base", "向量检索"]
    result = acme.embeddings.create(model="text-embedding-v3", input=texts)
    assert [len(d.embedding) for d in result.data] == [64, 64]
    for item, text_ in zip(result.data, texts, strict=True):
        assert item.embedding == pytest.approx(vector_for(text_, 64), abs=1e-6)
    as_floats = acme.embeddings.create(
        model="text-embedding-v3", input="knowledge base", encoding_format="float"
    )
    assert as_floats.data[0].embedding == pytest.approx(vector_for("knowledge base", 64), abs=1e-6)


def test_a_model_not_granted_is_model_not_found(platform_url, granted):
    with pytest.raises(openai.NotFoundError) as raised:
        client(platform_url, granted["globex_key"]).chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "hi"}]
        )
    assert raised.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError, match="does not support embedding"):
        client(platform_url, granted["acme_key"]).embeddings.create(model="qwen-plus", input="x")


def test_bad_and_revoked_keys_are_refused(platform_url, granted, acme):
    with pytest.raises(openai.AuthenticationError) as raised:
        client(platform_url, "sk-" + "0" * 48).models.list()
    assert raised.value.body["code"] == "invalid_api_key"
    from apps.accounts.models import ApiKey

    revoke_api_key(ApiKey.objects.get(name="program"))
    with pytest.raises(openai.AuthenticationError, match="revoked"):
        client(platform_url, granted["acme_key"]).models.list()
    missing = httpx.get(f"{platform_url}/compatible-mode/v1/models")
    assert missing.status_code == 401
    assert set(missing.json()["error"]) == {"message", "type", "param", "code"}


def test_bad_requests_answer_in_openais_shape(platform_url, granted):
    headers = {"Authorization": f"Bearer {granted['acme_key']}"}
    bad_json = httpx.post(
        f"{platform_url}/compatible-mode/v1/chat/completions", content="{nope", headers=headers
    )
    assert bad_json.status_code == 400
    assert bad_json.json()["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.BadRequestError) as raised:
        client(platform_url, granted["acme_key"]).chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "hi"}], temperature=9
        )
    assert raised.value.body["param"] == "temperature"
    unknown = httpx.get(f"{platform_url}/compatible-mode/v1/nothing", headers=headers)
    assert unknown.status_code == 404
    assert "error" in unknown.json()


def test_upstream_failures_map_to_clear_errors(platform_url, granted, upstream):
    acme = client(platform_url, granted["acme_key"])
    hello = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}
    upstream.script("chat", error(429, "upstream busy", retry_after=7))
    with pytest.raises(openai.RateLimitError) as limited:
        acme.chat.completions.create(**hello)
    assert limited.value.response.headers["retry-after"] == "7"
    assert limited.value.body["code"] == "rate_limit_exceeded"

    upstream.script("chat", slow(3))
    with pytest.raises(openai.InternalServerError) as timed_out:
        acme.chat.completions.create(**hello)
    assert timed_out.value.status_code == 504

    upstream.script("chat", error(401, "Incorrect API key provided: sk-up"))
    with pytest.raises(openai.APIStatusError) as refused:
        acme.chat.completions.create(**hello)
    assert refused.value.status_code == 502
    assert "sk-up" not in str(refused.value.body)


def test_a_client_that_goes_away_cancels_the_upstream_call(platform_url, granted, upstream):
    upstream.script("chat", stream([f"w{i} " for i in range(12)], delay=0.25))
    body = {"model": "qwen-plus", "messages": [{"role": "user", "content": "long"}], "stream": True}
    headers = {"Authorization": f"Bearer {granted['acme_key']}"}
    with httpx.stream(
        "POST",
        f"{platform_url}/compatible-mode/v1/chat/completions",
        json=body,
        headers=headers,
        timeout=10,
    ) as response:
        for line in response.iter_lines():
            if '"content": "w0' in line:
                break  # read one token, then hang up
    time.sleep(12 * 0.25 + 1)  # long enough for the whole stream had it gone on
    [sent] = upstream.requests_for("chat")
    assert sent.finished_at is None, "the upstream stream ran to its end after the client left"
