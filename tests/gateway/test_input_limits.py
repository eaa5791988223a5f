"""What one call may carry, as OpenAI and DashScope document it: inputs per embeddings
call, tokens per input and per request, messages and prompt tokens per chat call. Over a
limit is a 400 with the surface's own code, and nothing is sent upstream."""

import dashscope
import openai
import pytest
from dashscope import Generation, TextEmbedding
from django.test import override_settings

pytestmark = pytest.mark.django_db(transaction=True)

#: One token per word for every tokenizer: short English words.
LONG_INPUT = "cat " * 9000


@pytest.fixture
def sdk(platform_url, granted):
    return openai.OpenAI(
        base_url=f"{platform_url}/compatible-mode/v1", api_key=granted["acme_key"], max_retries=0
    )


@pytest.fixture
def on_dashscope(platform_url, monkeypatch):
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")


def test_embeddings_inputs_per_call_follow_openai(sdk, upstream):
    with pytest.raises(openai.BadRequestError) as refused:
        sdk.embeddings.create(model="text-embedding-v3", input=["a"] * 2049)
    assert (refused.value.body["code"], refused.value.body["param"]) == ("invalid_value", "input")
    assert "2048" in refused.value.body["message"]
    assert sdk.embeddings.create(model="text-embedding-v3", input=["a"] * 3).data
    assert len(upstream.requests_for("embeddings")) == 1


def test_embeddings_tokens_per_input_and_per_request(sdk, upstream):
    with pytest.raises(openai.BadRequestError) as too_long:
        sdk.embeddings.create(model="text-embedding-v3", input=["short", LONG_INPUT])
    assert too_long.value.body["code"] == "context_length_exceeded"
    assert too_long.value.body["param"] == "input[1]"
    assert "8192 tokens" in too_long.value.body["message"]

    with (
        override_settings(EMBEDDING_MAX_REQUEST_TOKENS=100),
        pytest.raises(openai.BadRequestError) as too_much,
    ):
        sdk.embeddings.create(model="text-embedding-v3", input=["cat " * 60, "dog " * 60])
    assert too_much.value.body["code"] == "max_tokens_per_request"
    assert not upstream.requests_for("embeddings")


def test_dashscope_embeddings_follow_dashscope(granted, on_dashscope, upstream):
    refused = TextEmbedding.call(
        model="text-embedding-v3", input=["a"] * 26, api_key=granted["acme_key"]
    )
    assert (refused.status_code, refused.code) == (400, "InvalidParameter.TooManyInputs")
    assert "25" in refused.message
    too_long = TextEmbedding.call(
        model="text-embedding-v3", input=[LONG_INPUT], api_key=granted["acme_key"]
    )
    assert (too_long.status_code, too_long.code) == (400, "InvalidParameter.InputTooLong")
    assert not upstream.requests_for("embeddings")


@override_settings(CHAT_MAX_MESSAGES=3, CHAT_MAX_PROMPT_TOKENS=50)
def test_chat_messages_and_prompt_tokens_per_call(sdk, granted, on_dashscope, upstream):
    many = [{"role": "user", "content": "hi"}] * 4
    with pytest.raises(openai.BadRequestError) as too_many:
        sdk.chat.completions.create(model="qwen-plus", messages=many)
    assert (too_many.value.body["code"], too_many.value.body["param"]) == (
        "invalid_value",
        "messages",
    )
    with pytest.raises(openai.BadRequestError) as too_long:
        sdk.chat.completions.create(
            model="qwen-plus", messages=[{"role": "user", "content": "cat " * 60}]
        )
    assert too_long.value.body["code"] == "max_tokens_per_request"
    answer = Generation.call(model="qwen-plus", prompt="cat " * 60, api_key=granted["acme_key"])
    assert (answer.status_code, answer.code) == (400, "InvalidParameter.RequestTooLong")
    assert not upstream.requests_for("chat")
