"""Workflow apps over the DashScope app API and ``model="app:<id>"``, called with the
official `dashscope` and `openai` SDKs, unmodified, against the platform on uvicorn with
the scripted upstream behind it: biz_params as the start's variables, the three
flow_stream_modes, a pause answered through session_id."""

import json

import dashscope
import httpx
import openai
import pytest
from dashscope import Application

from apps.applications.models import Run
from tests.applications.conftest import publish
from tests.applications.workflows.conftest import chain, definition, node
from tests.upstream import stream
from tests.upstream import text as reply

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def base(platform_url, monkeypatch):
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")
    return f"{platform_url}/api/v1"


def create(console, data: dict, *, published: bool = True) -> dict:
    response = console.post("/apps", {"name": "Flow", "kind": "workflow", "draft": data})
    assert response.status_code == 201, response.content
    app = response.json()
    if published:
        publish(console, app["id"])
    return app


def weather() -> dict:
    """start (city, required) → llm → end."""
    return definition(
        [
            node(
                "start",
                "start",
                variables=[{"name": "city", "type": "string", "required": True}],
            ),
            {
                **node(
                    "llm_1", "llm", model="agent-chat", prompt="{{ start.city }}: {{ sys.query }}"
                ),
                "title": "Forecast",
            },
            node("end", "end", output="{{ llm_1.text }}"),
        ],
        chain("start", "llm_1", "end"),
    )


@pytest.fixture
def app(acme_console):
    return create(acme_console, weather())


def test_application_call_with_biz_params(base, app, acme_key, upstream):
    upstream.script("chat", reply("Sunny.", prompt_tokens=5, completion_tokens=2))
    response = Application.call(
        app_id=app["id"],
        api_key=acme_key,
        prompt="weather?",
        biz_params={"city": "Paris"},
        has_thoughts=True,
    )
    assert response.status_code == 200, response
    assert response.output.text == "Sunny."
    assert response.output.finish_reason == "stop"
    assert upstream.requests_for("chat")[-1].body["messages"][-1]["content"] == "Paris: weather?"
    thoughts = response.output.thoughts
    assert [(t.action_type, t.action, t.response) for t in thoughts] == [
        ("workflow_node", "start", "success"),
        ("workflow_node", "llm", "success"),
        ("workflow_node", "end", "success"),
    ]
    assert thoughts[1].action_name == "Forecast"
    assert json.loads(thoughts[1].observation) == {"text": "Sunny."}
    [model] = response.usage.models
    assert (model.model_id, model.input_tokens, model.output_tokens) == ("agent-chat", 5, 2)
    run = Run.objects.get()
    assert (run.surface, run.version.number, run.answer) == ("dashscope", 1, "Sunny.")


def test_a_missing_start_variable_is_a_400(base, app, acme_key):
    response = Application.call(app_id=app["id"], api_key=acme_key, prompt="weather?")
    assert response.status_code == 400
    assert response.code == "InvalidParameter"
    assert "input.biz_params.city" in response.message
    wrong = Application.call(app_id=app["id"], api_key=acme_key, prompt="x", biz_params={"city": 3})
    assert (wrong.status_code, wrong.code) == (400, "InvalidParameter")
    assert "expected a string" in wrong.message


def test_an_unpublished_workflow(base, acme_console, acme_key):
    draft_only = create(acme_console, weather(), published=False)
    response = Application.call(app_id=draft_only["id"], api_key=acme_key, prompt="x")
    assert (response.status_code, response.code) == (400, "FlowNotPublished")


def _stream(app_id: str, key: str, **options) -> list:
    frames = list(
        Application.call(
            app_id=app_id,
            api_key=key,
            prompt="weather?",
            biz_params={"city": "Oslo"},
            stream=True,
            incremental_output=True,
            **options,
        )
    )
    assert all(f.status_code == 200 for f in frames), frames
    return frames


def test_full_thoughts_streams_node_progress_as_thoughts(base, app, acme_key, upstream):
    upstream.script("chat", stream(["Cold ", "and ", "dry."]))
    frames = _stream(app["id"], acme_key, has_thoughts=True)
    assert "".join(f.output.text or "" for f in frames) == "Cold and dry."
    thoughts = [t for f in frames for t in f.output.thoughts or []]
    assert [(t.action, t.response) for t in thoughts] == [
        ("start", "success"),
        ("llm", "success"),
        ("end", "success"),
    ]
    assert frames[-1].output.finish_reason == "stop"
    assert frames[-1].usage.models[0].model_id == "agent-chat"


def test_full_thoughts_without_has_thoughts_is_the_text(base, app, acme_key, upstream):
    upstream.script("chat", stream(["a", "b"]))
    frames = _stream(app["id"], acme_key, flow_stream_mode="full_thoughts")
    assert [f.output.text for f in frames] == ["ab", ""]  # the end node's answer, then stop
    assert all(not f.output.thoughts for f in frames)


def test_agent_format_is_only_the_answer(base, app, acme_key, upstream):
    upstream.script("chat", stream(["Warm", "."]))
    frames = _stream(app["id"], acme_key, flow_stream_mode="agent_format", has_thoughts=True)
    assert "".join(f.output.text or "" for f in frames) == "Warm."
    assert all(not f.output.thoughts for f in frames)
    assert frames[-1].output.finish_reason == "stop"


def test_message_format_carries_workflow_messages(base, app, acme_key, upstream):
    upstream.script("chat", stream(["Rain", "y."]))
    frames = _stream(app["id"], acme_key, flow_stream_mode="message_format")
    messages = [f.output.workflow_message for f in frames if f.output.workflow_message]
    progress = [(m["node_id"], m["node_status"], m["node_is_completed"]) for m in messages]
    assert progress[:2] == [("start", "executing", "false"), ("start", "success", "true")]
    assert ("llm_1", "success", "true") in progress
    assert progress[-1] == ("end", "success", "true")
    answered = [m for m in messages if m["message"]["content"]]
    assert [(m["node_id"], m["message"]["content"]) for m in answered] == [("end", "Rainy.")]
    assert all(m["message"]["role"] == "assistant" for m in messages)
    end = [m for m in messages if m["node_id"] == "end"]
    assert [m["node_msg_seq_id"] for m in end] == list(range(len(end)))
    assert end[0]["node_type"] == "end" and end[0]["node_name"] == "end"
    assert frames[-1].output.finish_reason == "stop"


def test_streamed_full_text_merged_by_the_sdk(base, app, acme_key, upstream):
    upstream.script("chat", stream(["x", "y"]))
    frames = list(
        Application.call(
            app_id=app["id"],
            api_key=acme_key,
            prompt="weather?",
            biz_params={"city": "Rome"},
            stream=True,
        )
    )
    assert frames[-1].output.text == "xy"


def test_raw_frames_and_a_bad_mode(base, app, acme_key, upstream):
    upstream.script("chat", stream(["x"]))
    body = {
        "input": {"prompt": "hi", "biz_params": {"city": "Rome"}},
        "parameters": {"incremental_output": True, "flow_stream_mode": "message_format"},
    }
    headers = {"Authorization": f"Bearer {acme_key}", "X-DashScope-SSE": "enable"}
    response = httpx.post(f"{base}/apps/{app['id']}/completion", json=body, headers=headers)
    blocks = [b.split("\n") for b in response.text.strip().split("\n\n")]
    assert blocks[0][:3] == ["id:1", "event:result", ":HTTP_STATUS/200"]
    data = [json.loads(b[3][len("data:") :]) for b in blocks]
    assert data[0]["output"]["workflow_message"]["node_is_completed"] == "false"
    assert len({d["output"]["session_id"] for d in data}) == 1
    body["parameters"]["flow_stream_mode"] = "loud"
    refused = httpx.post(f"{base}/apps/{app['id']}/completion", json=body, headers=headers)
    assert refused.status_code == 400
    assert refused.json()["code"] == "InvalidParameter"


def test_a_pause_is_answered_with_the_session_id(base, acme_console, acme_key, upstream):
    data = definition(
        [
            node("start", "start"),
            node("ask", "human_input", question="Which size of {{ sys.query }}?"),
            node("llm_1", "llm", model="agent-chat", prompt="{{ sys.query }} {{ ask.answer }}"),
            node("end", "end", output="{{ llm_1.text }}"),
        ],
        chain("start", "ask", "llm_1", "end"),
    )
    app = create(acme_console, data)
    first = Application.call(app_id=app["id"], api_key=acme_key, prompt="coffee")
    assert first.status_code == 200, first
    assert first.output.text == "Which size of coffee?"
    assert first.output.finish_reason == "stop"
    session_id = first.output.session_id
    assert Run.objects.get().status == "waiting"
    upstream.script("chat", reply("One large coffee."))
    frames = list(
        Application.call(
            app_id=app["id"],
            api_key=acme_key,
            prompt="large",
            session_id=session_id,
            stream=True,
            incremental_output=True,
            flow_stream_mode="message_format",
        )
    )
    assert "".join(f.output.text or "" for f in frames) == "One large coffee."
    assert frames[-1].output.session_id == session_id
    statuses = [
        (f.output.workflow_message["node_id"], f.output.workflow_message["node_status"])
        for f in frames
        if f.output.workflow_message
    ]
    assert ("ask", "success") in statuses
    assert upstream.requests_for("chat")[-1].body["messages"][-1]["content"] == "coffee large"
    assert sorted(Run.objects.values_list("status", flat=True)) == ["succeeded", "waiting"]


def test_a_pause_streams_its_question_with_a_waiting_node(base, acme_console, acme_key):
    data = definition(
        [
            node("start", "start"),
            node("ask", "human_input", question="Name?"),
            node("end", "end", output="Hi {{ ask.answer }}"),
        ],
        chain("start", "ask", "end"),
    )
    app = create(acme_console, data)
    frames = list(
        Application.call(
            app_id=app["id"],
            api_key=acme_key,
            prompt="hello",
            stream=True,
            incremental_output=True,
            flow_stream_mode="message_format",
        )
    )
    statuses = [
        (f.output.workflow_message["node_id"], f.output.workflow_message["node_status"])
        for f in frames
        if f.output.workflow_message
    ]
    assert ("ask", "waiting") in statuses
    assert "".join(f.output.text or "" for f in frames) == "Name?"
    assert frames[-1].output.finish_reason == "stop"


def test_openai_sdk_runs_a_workflow_app(platform_url, acme_console, acme_key, upstream):
    data = weather()
    data["nodes"][0]["data"]["variables"][0]["required"] = False
    data["nodes"][0]["data"]["variables"][0]["default"] = "Lima"
    app = create(acme_console, data)
    client = openai.OpenAI(api_key=acme_key, base_url=f"{platform_url}/compatible-mode/v1")
    upstream.script("chat", reply("Mild."), stream(["Mi", "ld."]))
    completion = client.chat.completions.create(
        model=f"app:{app['id']}",
        messages=[
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "weather?"},
        ],
    )
    assert completion.choices[0].message.content == "Mild."
    assert completion.choices[0].finish_reason == "stop"
    assert upstream.requests_for("chat")[-1].body["messages"][-1]["content"] == "Lima: weather?"
    chunks = list(
        client.chat.completions.create(
            model=f"app:{app['id']}",
            messages=[{"role": "user", "content": "now?"}],
            stream=True,
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Mild."
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=f"app:{app['id']}", messages=[{"role": "system", "content": "only this"}]
        )
    assert "last user message" in str(refused.value)
    assert Run.objects.filter(surface="openai").count() == 2
