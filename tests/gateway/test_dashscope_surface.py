"""The DashScope-compatible model surface, called with the official `dashscope` SDK,
unmodified, against the platform on uvicorn, with the scripted upstream behind it."""

import time

import dashscope
import httpx
import pytest
from dashscope import Generation, TextEmbedding

from tests.upstream import error, stream, text, tool_call, vector_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def base(platform_url, monkeypatch):
    """The SDK pointed at the platform, as a tenant program would do it."""
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")
    return f"{platform_url}/api/v1"


def test_generation_with_a_prompt_and_with_messages(base, granted, upstream):
    upstream.script("chat", text("你好 我是通义", prompt_tokens=5, completion_tokens=4))
    answer = Generation.call(model="qwen-plus", prompt="你好", api_key=granted["acme_key"])
    assert answer.status_code == 200, answer
    assert answer.output.text == "你好 我是通义"
    assert (answer.usage.input_tokens, answer.usage.output_tokens) == (5, 4)
    assert answer.request_id

    answer = Generation.call(
        model="qwen-plus",
        messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
        result_format="message",
        api_key=granted["acme_key"],
    )
    assert answer.output.choices[0].message.content == "echo: hi"
    assert answer.output.choices[0].finish_reason == "stop"
    sent = upstream.requests_for("chat")[-1].body
    assert [m["role"] for m in sent["messages"]] == ["system", "user"]
    assert sent["model"] == "up-chat"


def test_generation_with_tools(base, granted, upstream):
    upstream.script("chat", tool_call("get_weather", '{"city": "杭州"}', call_id="call_9"))
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
    answer = Generation.call(
        model="qwen-plus",
        messages=[{"role": "user", "content": "天气?"}],
        tools=tools,
        result_format="message",
        api_key=granted["acme_key"],
    )
    [call] = answer.output.choices[0].message.tool_calls
    assert call["function"]["name"] == "get_weather"
    assert call["function"]["arguments"] == '{"city": "杭州"}'
    assert answer.output.choices[0].finish_reason == "tool_calls"


def test_streaming_generation_arrives_piece_by_piece(base, granted, upstream):
    upstream.script("chat", stream(["一", "二", "三", "四"], delay=0.4))
    started = time.monotonic()
    arrivals, pieces, last = [], [], None
    for frame in Generation.call(
        model="qwen-plus",
        prompt="count",
        stream=True,
        incremental_output=True,
        api_key=granted["acme_key"],
    ):
        assert frame.status_code == 200, frame
        if frame.output.text:
            arrivals.append(time.monotonic() - started)
            pieces.append(frame.output.text)
        last = frame
    assert "".join(pieces) == "一二三四"
    assert arrivals[0] < 0.9 < arrivals[-1]
    assert last.output.finish_reason == "stop"


def test_text_embedding(base, granted):
    answer = TextEmbedding.call(
        model="text-embedding-v3", input=["知识库", "retrieval"], api_key=granted["acme_key"]
    )
    assert answer.status_code == 200, answer
    vectors = [item["embedding"] for item in answer.output["embeddings"]]
    assert vectors[0] == pytest.approx(vector_for("知识库", 64))
    assert [item["text_index"] for item in answer.output["embeddings"]] == [0, 1]
    assert answer.usage["total_tokens"] > 0


def test_errors_in_dashscopes_shape(base, granted, upstream):
    unknown = Generation.call(model="qwen-max", prompt="hi", api_key=granted["acme_key"])
    assert (unknown.status_code, unknown.code) == (404, "ModelNotFound")
    other = Generation.call(model="qwen-plus", prompt="hi", api_key=granted["globex_key"])
    assert (other.status_code, other.code) == (404, "ModelNotFound")
    bad_key = Generation.call(model="qwen-plus", prompt="hi", api_key="sk-" + "1" * 48)
    assert (bad_key.status_code, bad_key.code) == (401, "InvalidApiKey")

    no_key = httpx.post(f"{base}/services/aigc/text-generation/generation", json={})
    assert no_key.status_code == 401
    assert set(no_key.json()) == {"code", "message", "request_id"}
    assert no_key.json()["code"] == "InvalidApiKey"

    upstream.script("chat", error(429, "upstream busy", retry_after=3))
    busy = Generation.call(model="qwen-plus", prompt="hi", api_key=granted["acme_key"])
    assert (busy.status_code, busy.code) == (429, "Throttling")

    headers = {"Authorization": f"Bearer {granted['acme_key']}"}
    empty = httpx.post(
        f"{base}/services/aigc/text-generation/generation",
        json={"model": "qwen-plus", "input": {}},
        headers=headers,
    )
    assert (empty.status_code, empty.json()["code"]) == (400, "InvalidParameter")
    assert "input" in empty.json()["message"]
    wrong_kind = TextEmbedding.call(model="qwen-plus", input="x", api_key=granted["acme_key"])
    assert (wrong_kind.status_code, wrong_kind.code) == (400, "InvalidParameter")
