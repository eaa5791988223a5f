"""The DashScope-compatible app API and ``model="app:<id>"`` on the OpenAI surface, called
with the official `dashscope` and `openai` SDKs, unmodified, against the platform on
uvicorn with the scripted upstream behind it."""

import json
import time

import dashscope
import httpx
import openai
import pytest
from dashscope import Application

from apps.applications.models import Run
from apps.usage.models import Quota
from tests.applications.conftest import make_app, publish
from tests.upstream import stream, text, tool_call

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def base(platform_url, monkeypatch):
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")
    return f"{platform_url}/api/v1"


@pytest.fixture
def app(acme_console):
    created = make_app(
        acme_console, system_prompt="Be kind.", tools=[{"type": "plugin", "id": "calculator"}]
    )
    publish(acme_console, created["id"], notes="first")
    return created


def test_application_call_returns_text_session_and_usage(base, app, acme_key, upstream):
    upstream.script("chat", text("Hello from the app", prompt_tokens=9, completion_tokens=4))
    response = Application.call(app_id=app["id"], api_key=acme_key, prompt="hi")
    assert response.status_code == 200, response
    assert response.output.text == "Hello from the app"
    assert response.output.finish_reason == "stop"
    assert len(response.output.session_id) == 32
    [model] = response.usage.models
    assert (model.model_id, model.input_tokens, model.output_tokens) == ("agent-chat", 9, 4)
    assert response.request_id
    run = Run.objects.get()
    assert (run.surface, run.version.number, run.api_key.name) == ("dashscope", 1, "program")


def test_session_continuation(base, app, acme_key, upstream):
    first = Application.call(app_id=app["id"], api_key=acme_key, prompt="My name is Ada.")
    second = Application.call(
        app_id=app["id"], api_key=acme_key, prompt="Who am I?", session_id=first.output.session_id
    )
    assert second.output.session_id == first.output.session_id
    sent = upstream.requests_for("chat")[-1].body["messages"]
    assert [m["content"] for m in sent[1:]] == [
        "My name is Ada.",
        "echo: My name is Ada.",
        "Who am I?",
    ]


def test_another_apps_session_id_starts_a_new_session_and_leaves_it_alone(
    base, app, acme_console, acme_key, upstream
):
    other = make_app(acme_console, name="Other")
    publish(acme_console, other["id"])
    theirs = Application.call(app_id=other["id"], api_key=acme_key, prompt="secret plans")
    for call in (
        {"prompt": "hi"},
        {"messages": [{"role": "user", "content": "hi"}]},
    ):
        mine = Application.call(
            app_id=app["id"], api_key=acme_key, session_id=theirs.output.session_id, **call
        )
        assert mine.status_code == 200, mine
        assert mine.output.session_id != theirs.output.session_id
    again = Application.call(
        app_id=other["id"], api_key=acme_key, prompt="and?", session_id=theirs.output.session_id
    )
    sent = upstream.requests_for("chat")[-1].body["messages"]
    assert again.output.session_id == theirs.output.session_id
    assert [m["content"] for m in sent[1:]] == ["secret plans", "echo: secret plans", "and?"]


def test_streaming_incremental_with_thoughts(base, app, acme_key, upstream):
    upstream.script(
        "chat",
        tool_call("calculator", {"expression": "6*7"}),
        stream(["The ", "answer ", "is 42."], delay=0.2),
    )
    started = time.monotonic()
    arrivals, pieces, thoughts, last = [], [], [], None
    for frame in Application.call(
        app_id=app["id"],
        api_key=acme_key,
        prompt="6*7?",
        stream=True,
        incremental_output=True,
        has_thoughts=True,
    ):
        assert frame.status_code == 200, frame
        if frame.output.text:
            arrivals.append(time.monotonic() - started)
            pieces.append(frame.output.text)
        thoughts += frame.output.thoughts or []
        last = frame
    assert "".join(pieces) == "The answer is 42."
    assert arrivals[-1] - arrivals[0] >= 0.3  # streamed, not sent at the end
    assert last.output.finish_reason == "stop"
    assert [t.action for t in thoughts] == ["calculator"]
    assert thoughts[0].observation == "42"
    assert last.usage.models[0].model_id == "agent-chat"


def test_streaming_full_output_and_session(base, app, acme_key, upstream):
    upstream.script("chat", stream(["a", "b", "c"]))
    frames = list(Application.call(app_id=app["id"], api_key=acme_key, prompt="abc", stream=True))
    assert frames[-1].output.text == "abc"  # the SDK merges incremental frames
    session_id = frames[-1].output.session_id
    assert session_id
    again = Application.call(
        app_id=app["id"], api_key=acme_key, prompt="more", session_id=session_id
    )
    assert again.output.session_id == session_id


def test_raw_sse_frames_are_dashscopes(base, app, acme_key, upstream):
    upstream.script("chat", stream(["x", "y"]))
    response = httpx.post(
        f"{base}/apps/{app['id']}/completion",
        json={"input": {"prompt": "hi"}, "parameters": {"incremental_output": True}},
        headers={"Authorization": f"Bearer {acme_key}", "X-DashScope-SSE": "enable"},
    )
    assert response.headers["content-type"].startswith("text/event-stream")
    frames = [block.split("\n") for block in response.text.strip().split("\n\n")]
    assert frames[0][:3] == ["id:1", "event:result", ":HTTP_STATUS/200"]
    data = [json.loads(frame[3][len("data:") :]) for frame in frames]
    assert [d["output"]["text"] for d in data] == ["x", "y", ""]
    assert [d["output"]["finish_reason"] for d in data] == ["null", "null", "stop"]
    assert len({d["output"]["session_id"] for d in data}) == 1


def test_messages_and_prompt_variables(base, acme_console, acme_key, upstream):
    created = make_app(
        acme_console,
        system_prompt="Reply in {{lang}}.",
        variables=[{"name": "lang", "required": True}],
    )
    publish(acme_console, created["id"])
    response = Application.call(
        app_id=created["id"],
        api_key=acme_key,
        messages=[{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "ok"}],
        prompt="now",
        biz_params={"user_prompt_params": {"lang": "French"}},
    )
    assert response.status_code == 200, response
    sent = upstream.requests_for("chat")[-1].body["messages"]
    assert sent[0]["content"] == "Reply in French."
    assert [m["content"] for m in sent[1:]] == ["earlier", "ok", "now"]

    missing = Application.call(app_id=created["id"], api_key=acme_key, prompt="x")
    assert (missing.status_code, missing.code) == (400, "InvalidParameter")


def test_errors_in_dashscopes_shape(base, acme_console, acme_key, globex_key, app, acme):
    draft_only = make_app(acme_console, name="Draft only")
    unpublished = Application.call(app_id=draft_only["id"], api_key=acme_key, prompt="x")
    assert (unpublished.status_code, unpublished.code) == (400, "FlowNotPublished")

    for app_id in (app["id"], "not-an-id", "00000000-0000-0000-0000-000000000000"):
        foreign = Application.call(app_id=app_id, api_key=globex_key, prompt="x")
        assert (foreign.status_code, foreign.code) == (404, "NotFound")

    bad_key = Application.call(app_id=app["id"], api_key="sk-wrong", prompt="x")
    assert (bad_key.status_code, bad_key.code) == (401, "InvalidApiKey")

    other_workspace = Application.call(
        app_id=app["id"], api_key=acme_key, prompt="x", workspace="globex"
    )
    assert (other_workspace.status_code, other_workspace.code) == (403, "AccessDenied")

    Quota.objects.create(workspace=acme, requests_per_minute=1)
    assert Application.call(app_id=app["id"], api_key=acme_key, prompt="x").status_code == 200
    throttled = Application.call(app_id=app["id"], api_key=acme_key, prompt="x")
    assert (throttled.status_code, throttled.code) == (429, "Throttling.RateQuota")
    throttled_stream = list(
        Application.call(app_id=app["id"], api_key=acme_key, prompt="x", stream=True)
    )
    assert (throttled_stream[0].status_code, throttled_stream[0].code) == (
        429,
        "Throttling.RateQuota",
    )


def test_openai_sdk_calls_an_app(platform_url, app, acme_key, upstream):
    client = openai.OpenAI(
        base_url=f"{platform_url}/compatible-mode/v1", api_key=acme_key, max_retries=0
    )
    upstream.script("chat", tool_call("calculator", {"expression": "2**10"}), text("1024"))
    answer = client.chat.completions.create(
        model=f"app:{app['id']}", messages=[{"role": "user", "content": "2^10?"}]
    )
    assert answer.choices[0].message.content == "1024"
    assert answer.model == f"app:{app['id']}"
    assert answer.usage.total_tokens > 0

    upstream.script("chat", stream(["one ", "two"]))
    pieces = [
        chunk.choices[0].delta.content or ""
        for chunk in client.chat.completions.create(
            model=f"app:{app['id']}", messages=[{"role": "user", "content": "count"}], stream=True
        )
        if chunk.choices
    ]
    assert "".join(pieces) == "one two"
    assert Run.objects.filter(surface="openai").count() == 2

    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="app:00000000-0000-0000-0000-000000000000",
            messages=[{"role": "user", "content": "x"}],
        )
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(
            model=f"app:{app['id']}",
            messages=[{"role": "user", "content": "x"}],
            tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}],
        )


def test_a_client_that_goes_away_cancels_the_run(base, app, acme_key, upstream):
    upstream.script("chat", stream([f"w{i} " for i in range(12)], delay=0.25))
    with httpx.stream(
        "POST",
        f"{base}/apps/{app['id']}/completion",
        json={"input": {"prompt": "long"}, "parameters": {"incremental_output": True}},
        headers={"Authorization": f"Bearer {acme_key}", "X-DashScope-SSE": "enable"},
        timeout=10,
    ) as response:
        for line in response.iter_lines():
            if '"text": "w0' in line:
                break  # read one piece, then hang up
    time.sleep(12 * 0.25 + 1)
    [sent] = upstream.requests_for("chat")
    assert sent.finished_at is None, "the upstream stream ran to its end after the client left"
    run = Run.objects.get()
    assert run.status == "cancelled"
    assert run.answer.startswith("w0")
