"""The upstream stub speaks both wires well enough for the real SDKs to use it."""

import json
import threading
import time

import dashscope
import httpx
import openai
import pytest

from tests.upstream import (
    UpstreamServer,
    count_tokens,
    error,
    hang_up,
    raw,
    scores,
    slow,
    stream,
    text,
    tool_call,
    tool_calls,
    vector_for,
    vectors,
)

USER = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def client(upstream):
    return openai.OpenAI(base_url=upstream.openai_base_url, api_key="sk-test", max_retries=0)


@pytest.fixture
def ds(upstream, monkeypatch):
    """The dashscope SDK, pointed at the stub (it builds URLs from this module global)."""
    monkeypatch.setattr(dashscope, "base_http_api_url", upstream.dashscope_base_url)
    return dashscope


# --- OpenAI ------------------------------------------------------------------------------------


def test_models_list(client, upstream):
    assert [m.id for m in client.models.list()] == ["stub-chat", "stub-embedding"]
    (request,) = upstream.requests
    assert (request.method, request.path, request.route) == ("GET", "/v1/models", "models")
    assert request.header("Authorization") == "Bearer sk-test"


def test_chat_default_echoes_the_last_user_message_with_rough_usage(client, upstream):
    completion = client.chat.completions.create(
        model="gpt-x", messages=[{"role": "system", "content": "Be brief."}, *USER]
    )
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-x"
    choice = completion.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == "echo: What is the capital of France?"
    assert choice.finish_reason == "stop"
    assert completion.usage.prompt_tokens == count_tokens("Be brief. " + USER[0]["content"])
    assert completion.usage.completion_tokens == 7
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 7
    assert upstream.requests[-1].body["messages"][1] == USER[0]


def test_scripted_replies_are_used_in_order_then_defaults_resume(client, upstream):
    upstream.script("chat", text("Paris.", prompt_tokens=11, completion_tokens=2), text("Lyon."))
    answers = [client.chat.completions.create(model="m", messages=USER) for _ in range(3)]
    assert [a.choices[0].message.content for a in answers] == [
        "Paris.",
        "Lyon.",
        "echo: What is the capital of France?",
    ]
    assert (answers[0].usage.prompt_tokens, answers[0].usage.completion_tokens) == (11, 2)
    assert upstream.pending("chat") == 0


def test_callable_replies_see_the_request(client, upstream):
    upstream.script("chat", lambda request: text(f"you sent {len(request.body['messages'])}"))
    answer = client.chat.completions.create(model="m", messages=USER * 3)
    assert answer.choices[0].message.content == "you sent 3"


def test_tool_call(client, upstream):
    upstream.script("chat", tool_call("calculator", {"expression": "2+2"}, call_id="call_1"))
    tools = [{"type": "function", "function": {"name": "calculator", "parameters": {}}}]
    completion = client.chat.completions.create(model="m", messages=USER, tools=tools)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert (call.id, call.type, call.function.name) == ("call_1", "function", "calculator")
    assert json.loads(call.function.arguments) == {"expression": "2+2"}
    assert upstream.requests[-1].body["tools"] == tools


def test_streaming_chunks_arrive_as_they_are_made(client, upstream):
    upstream.script("chat", stream(["The ", "capital ", "is ", "Paris."], delay=0.1))
    arrivals = [
        (time.monotonic(), chunk)
        for chunk in client.chat.completions.create(
            model="m", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    ]
    contents = [c.choices[0].delta.content for _, c in arrivals if c.choices]
    assert "".join(filter(None, contents)) == "The capital is Paris."
    first_text = next(t for t, c in arrivals if c.choices and c.choices[0].delta.content)
    finish_at, finish = next(
        (t, c) for t, c in arrivals if c.choices and c.choices[0].finish_reason
    )
    assert finish.choices[0].finish_reason == "stop"
    # 3 gaps between pieces + 1 before the end: 0.4 s, less some scheduling slack
    assert finish_at - first_text >= 0.25
    request = upstream.requests[-1]
    while request.finished_at is None:  # noted just after the last byte is written
        time.sleep(0.005)
    assert first_text < request.finished_at - 0.25
    usage = arrivals[-1][1]
    assert usage.choices == []
    assert usage.usage.completion_tokens == count_tokens("The capital is Paris.")
    assert request.streaming


def test_streaming_without_usage_when_not_asked_or_suppressed(client, upstream):
    upstream.script("chat", stream(["a"]), stream(["b"], usage=False))
    plain = list(client.chat.completions.create(model="m", messages=USER, stream=True))
    assert all(c.usage is None for c in plain)
    suppressed = list(
        client.chat.completions.create(
            model="m", messages=USER, stream=True, stream_options={"include_usage": True}
        )
    )
    assert all(c.usage is None for c in suppressed)


def test_text_reply_streams_word_by_word(client):
    chunks = list(client.chat.completions.create(model="m", messages=USER, stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices[0].delta.content]
    assert len(pieces) == 7
    assert "".join(pieces) == "echo: What is the capital of France?"


def test_streamed_tool_call_arguments_arrive_in_fragments(client, upstream):
    upstream.script("chat", tool_calls(("a", {"x": 1}), ("b", '{"y": [1, 2, 3]}')))
    calls: dict[int, dict] = {}
    finish = None
    for chunk in client.chat.completions.create(model="m", messages=USER, stream=True):
        choice = chunk.choices[0]
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or []:
            entry = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": []})
            entry["id"] = delta.id or entry["id"]
            entry["name"] += (delta.function.name or "") if delta.function else ""
            entry["arguments"].append(delta.function.arguments or "")
    assert finish == "tool_calls"
    assert [(c["id"], c["name"], "".join(c["arguments"])) for c in calls.values()] == [
        ("call_stub_0", "a", '{"x": 1}'),
        ("call_stub_1", "b", '{"y": [1, 2, 3]}'),
    ]
    assert all(len([a for a in c["arguments"] if a]) == 2 for c in calls.values())


def test_embeddings_are_deterministic_and_in_order(client, upstream):
    texts = ["alpha beta", "gamma", "alpha beta"]
    response = client.embeddings.create(model="emb", input=texts)  # the SDK asks for base64
    assert upstream.requests[-1].body["encoding_format"] == "base64"
    assert [d.index for d in response.data] == [0, 1, 2]
    got = [d.embedding for d in response.data]
    assert got[0] == got[2] != got[1]
    assert got[1] == pytest.approx(vector_for("gamma", 64), abs=1e-6)
    assert response.usage.prompt_tokens == 5
    floats = client.embeddings.create(
        model="emb", input="gamma", dimensions=8, encoding_format="float"
    )
    assert floats.data[0].embedding == vector_for("gamma", 8)


def test_embeddings_of_related_texts_are_closer():
    def cosine(a, b):
        return sum(x * y for x, y in zip(a, b, strict=True))

    cat = vector_for("the cat sat on the mat", 64)
    assert cosine(cat, vector_for("a cat on a mat", 64)) > cosine(
        cat, vector_for("quarterly revenue grew", 64)
    )


def test_scripted_vectors(client, upstream):
    upstream.script("embeddings", vectors([[1.0, 0.0], [0.0, 1.0]], prompt_tokens=9))
    response = client.embeddings.create(model="e", input=["a", "b"], encoding_format="float")
    assert [d.embedding for d in response.data] == [[1.0, 0.0], [0.0, 1.0]]
    assert response.usage.prompt_tokens == 9


def test_rate_limit_error_with_retry_after(client, upstream):
    upstream.script("chat", error(429, "Rate limit reached", retry_after=7))
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="m", messages=USER)
    exc = caught.value
    assert exc.status_code == 429
    assert exc.response.headers["retry-after"] == "7"
    assert exc.body == {
        "message": "Rate limit reached",
        "type": "rate_limit_error",
        "param": None,
        "code": "rate_limit_exceeded",
    }
    # the error was used up; the next call gets the default
    assert client.chat.completions.create(model="m", messages=USER).choices[0].message.content


@pytest.mark.parametrize(
    ("status", "exception"),
    [
        (400, openai.BadRequestError),
        (404, openai.NotFoundError),
        (500, openai.InternalServerError),
        (503, openai.InternalServerError),
    ],
)
def test_error_statuses(client, upstream, status, exception):
    upstream.script("chat", error(status, "nope", code="some_code"))
    with pytest.raises(exception) as caught:
        client.chat.completions.create(model="m", messages=USER)
    assert caught.value.status_code == status
    assert caught.value.code == "some_code"
    assert caught.value.body["message"] == "nope"


def test_error_before_a_stream_is_an_http_error(client, upstream):
    upstream.script("chat", error(500, "boom"))
    with pytest.raises(openai.InternalServerError):
        list(client.chat.completions.create(model="m", messages=USER, stream=True))


@pytest.mark.parametrize("upstream", [{"api_key": "sk-right"}], indirect=True)
def test_authentication(upstream):
    wrong = openai.OpenAI(base_url=upstream.openai_base_url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError) as caught:
        wrong.models.list()
    assert caught.value.code == "invalid_api_key"
    assert "sk-wrong" in caught.value.message  # echoed on purpose: callers must scrub it
    right = openai.OpenAI(base_url=upstream.openai_base_url, api_key="sk-right", max_retries=0)
    assert right.models.list().data


def test_slow_reply_times_the_client_out(upstream):
    upstream.script("chat", slow(2))
    quick = openai.OpenAI(
        base_url=upstream.openai_base_url, api_key="k", max_retries=0, timeout=0.2
    )
    started = time.monotonic()
    with pytest.raises(openai.APITimeoutError):
        quick.chat.completions.create(model="m", messages=USER)
    assert time.monotonic() - started < 1


def test_slow_then_a_reply(client, upstream):
    upstream.script("chat", slow(0.2, text("late")))
    started = time.monotonic()
    answer = client.chat.completions.create(model="m", messages=USER)
    assert answer.choices[0].message.content == "late"
    assert time.monotonic() - started >= 0.2


def test_hang_up(client, upstream):
    upstream.script("chat", hang_up())
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=USER)


def test_hang_up_mid_stream(client, upstream):
    upstream.script("chat", stream(["one ", "two "], hang_up=True))
    received = []
    with pytest.raises(openai.APIConnectionError):
        for chunk in client.chat.completions.create(model="m", messages=USER, stream=True):
            received.append(chunk.choices[0].delta.content)
    assert "one " in received


def test_raw_reply_and_misfits(client, upstream):
    upstream.script("chat", raw(502, "<html>bad gateway</html>"), vectors([[1.0]]))
    with pytest.raises(openai.InternalServerError) as caught:
        client.chat.completions.create(model="m", messages=USER)
    assert caught.value.status_code == 502
    with pytest.raises(openai.InternalServerError, match="cannot answer chat with Vectors"):
        client.chat.completions.create(model="m", messages=USER)


def test_a_failing_callable_reply_is_reported(client, upstream):
    def broken(request):
        raise KeyError("oops")

    upstream.script("chat", broken)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=USER)
    (report,) = upstream.crashes
    assert "KeyError: 'oops'" in report
    upstream.crashes.clear()  # or the fixture fails the test


def test_compatible_mode_prefix_and_unknown_routes(upstream):
    compatible = openai.OpenAI(
        base_url=upstream.base_url + "/compatible-mode/v1", api_key="k", max_retries=0
    )
    assert compatible.chat.completions.create(model="m", messages=USER).choices
    with pytest.raises(openai.NotFoundError):
        compatible.files.list()


def test_concurrent_requests_are_served_in_parallel(upstream):
    upstream.script("chat", *[slow(0.3)] * 6)
    client = openai.OpenAI(base_url=upstream.openai_base_url, api_key="k", max_retries=0)
    answers = []

    def ask():
        answers.append(client.chat.completions.create(model="m", messages=USER))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(answers) == 6
    assert time.monotonic() - started < 1.2
    assert len(upstream.requests_for("chat")) == 6


def test_script_validates_routes_and_reset_forgets(upstream, client):
    with pytest.raises(ValueError, match="unknown route"):
        upstream.script("chat.completions", text("x"))
    upstream.script("chat", text("x"))
    client.models.list()
    upstream.reset()
    assert upstream.requests == []
    assert upstream.pending("chat") == 0


def test_stop_does_not_wait_for_slow_replies_or_pooled_connections():
    server = UpstreamServer().start()
    server.script("chat", slow(30))
    client = openai.OpenAI(base_url=server.openai_base_url, api_key="k", max_retries=0)
    client.models.list()  # leaves a pooled keep-alive connection
    failures = []

    def ask():
        try:
            client.chat.completions.create(model="m", messages=USER)
        except openai.APIConnectionError as exc:
            failures.append(exc)

    thread = threading.Thread(target=ask)
    thread.start()
    while not server.requests_for("chat"):
        time.sleep(0.01)
    started = time.monotonic()
    server.stop()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert failures


# --- DashScope ---------------------------------------------------------------------------------


def test_generation_text_format(ds, upstream):
    response = ds.Generation.call(model="qwen-turbo", prompt="Hello there", api_key="sk-ds")
    assert response.status_code == 200
    assert response.output.text == "echo: Hello there"
    assert response.output.finish_reason == "stop"
    assert response.usage.input_tokens == 2
    assert response.usage.output_tokens == 3
    assert response.request_id
    request = upstream.requests[-1]
    assert request.path == "/api/v1/services/aigc/text-generation/generation"
    assert request.route == "dashscope.generation"
    assert request.body["model"] == "qwen-turbo"
    assert request.body["input"] == {"prompt": "Hello there"}
    assert request.header("authorization") == "Bearer sk-ds"


def test_generation_message_format_and_tool_calls(ds, upstream):
    upstream.script(
        "dashscope.generation", text("Bonjour"), tool_call("weather", {"city": "Paris"})
    )
    messages = [{"role": "user", "content": "Say hi"}]
    response = ds.Generation.call(
        model="qwen-plus", messages=messages, result_format="message", api_key="k"
    )
    choice = response.output.choices[0]
    assert (choice.message.role, choice.message.content) == ("assistant", "Bonjour")
    assert choice.finish_reason == "stop"
    assert upstream.requests[-1].body["parameters"]["result_format"] == "message"
    response = ds.Generation.call(
        model="qwen-plus", messages=messages, result_format="message", api_key="k"
    )
    choice = response.output.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call["function"] == {"name": "weather", "arguments": '{"city": "Paris"}'}


@pytest.mark.parametrize("incremental", [True, False])
def test_generation_streaming(ds, upstream, incremental):
    upstream.script("dashscope.generation", stream(["Hel", "lo ", "you"], delay=0.1))
    started = time.monotonic()
    arrivals = [
        (time.monotonic() - started, r)
        for r in ds.Generation.call(
            model="qwen-turbo",
            prompt="hi",
            stream=True,
            incremental_output=incremental,
            api_key="k",
        )
    ]
    assert upstream.requests[-1].header("x-dashscope-sse") == "enable"
    texts = [r.output.text for _, r in arrivals]
    # The SDK itself merges increments when incremental_output=False, so callers see
    # cumulative text either way; on the wire the stub sent what was asked.
    if incremental:
        assert texts == ["Hel", "lo ", "you", ""]
    else:
        assert texts[-1] == "Hello you"
    assert [r.output.finish_reason for _, r in arrivals] == ["null", "null", "null", "stop"]
    assert arrivals[-1][0] - arrivals[0][0] >= 0.2  # 0.3 s of delays, less slack
    assert arrivals[-1][1].usage.output_tokens == count_tokens("Hello you")


def test_generation_streaming_wire_is_cumulative_by_default(upstream):
    response = httpx.post(
        upstream.dashscope_base_url + "/services/aigc/text-generation/generation",
        json={"model": "qwen-max", "input": {"prompt": "a b"}, "parameters": {}},
        headers={"X-DashScope-SSE": "enable"},
        timeout=5,
    )
    lines = response.text.splitlines()
    assert response.headers["content-type"].startswith("text/event-stream")
    assert lines[:3] == ["id:1", "event:result", ":HTTP_STATUS/200"]
    data = [json.loads(line[5:]) for line in lines if line.startswith("data:")]
    assert [d["output"]["text"] for d in data] == ["echo:", "echo: a", "echo: a b", "echo: a b"]
    assert [d["output"]["finish_reason"] for d in data] == ["null", "null", "null", "stop"]


def test_generation_errors(ds, upstream):
    upstream.script("dashscope.generation", error(429, "Requests throttled", retry_after=3))
    response = ds.Generation.call(model="qwen-turbo", prompt="hi", api_key="k")
    assert response.status_code == 429
    assert response.code == "Throttling.RateQuota"
    assert response.message == "Requests throttled"
    assert response.headers["Retry-After"] == "3"


@pytest.mark.parametrize("upstream", [{"api_key": "sk-right"}], indirect=True)
def test_dashscope_authentication(ds):
    response = ds.Generation.call(model="qwen-turbo", prompt="hi", api_key="sk-wrong")
    assert (response.status_code, response.code) == (401, "InvalidApiKey")
    assert ds.Generation.call(model="qwen-turbo", prompt="hi", api_key="sk-right").output.text


def test_text_embedding(ds, upstream):
    response = ds.TextEmbedding.call(
        model="text-embedding-v3", input=["hello world", "hello"], dimension=16, api_key="k"
    )
    assert response.status_code == 200
    embeddings = response.output["embeddings"]
    assert [e["text_index"] for e in embeddings] == [0, 1]
    assert embeddings[0]["embedding"] == vector_for("hello world", 16)
    assert response.usage["total_tokens"] == 3
    request = upstream.requests[-1]
    assert request.path == "/api/v1/services/embeddings/text-embedding/text-embedding"
    assert request.body["input"] == {"texts": ["hello world", "hello"]}
    assert request.body["parameters"]["dimension"] == 16


def test_text_rerank(ds, upstream):
    documents = ["dogs bark", "cats purr softly", "cats"]
    response = ds.TextReRank.call(
        model="gte-rerank-v2",
        query="cats",
        documents=documents,
        top_n=2,
        return_documents=True,
        api_key="k",
    )
    assert response.status_code == 200
    results = response.output.results
    assert [r.index for r in results] == [2, 1]
    assert results[0].relevance_score > results[1].relevance_score
    assert results[0]["document"] == {"text": "cats"}  # attribute access reads None (SDK)
    assert response.usage.total_tokens > 0
    assert upstream.requests[-1].path == "/api/v1/services/rerank/text-rerank/text-rerank"

    upstream.script("dashscope.rerank", scores([0.1, 0.9, 0.5]))
    response = ds.TextReRank.call(
        model="gte-rerank-v2", query="q", documents=documents, api_key="k"
    )
    assert [(r.index, r.relevance_score) for r in response.output.results] == [
        (1, 0.9),
        (2, 0.5),
        (0, 0.1),
    ]
    assert response.output.results[0].get("document") is None
