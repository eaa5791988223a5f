"""The agent loop, run from the playground (the draft) against the scripted upstream:
native tool calls over several steps, tool failures fed back, the iteration limit, the
ReAct fallback, prompt variables, sessions, and each run's trace."""

import json

import pytest

from apps.applications.models import Run
from apps.usage.models import Quota, UsageRecord
from apps.usage.services import flush_usage
from tests.applications.conftest import make_app, play
from tests.upstream import text, tool_call, tool_calls

pytestmark = pytest.mark.django_db(transaction=True)

CALCULATOR = {"type": "plugin", "id": "calculator"}


def test_a_plain_answer_is_one_model_call(acme_console, upstream):
    app = make_app(acme_console, system_prompt="You are terse.")
    upstream.script("chat", text("Paris.", prompt_tokens=12, completion_tokens=2))
    out = play(acme_console, app["id"], "Capital of France?")
    assert out["text"] == "Paris."
    assert out["usage"] == {
        "models": [{"model_id": "agent-chat", "input_tokens": 12, "output_tokens": 2}]
    }
    sent = upstream.requests_for("chat")[-1].body
    assert sent["messages"] == [
        {"role": "system", "content": "You are terse."},
        {"role": "user", "content": "Capital of France?"},
    ]
    assert "tools" not in sent


def test_native_tool_calls_over_several_steps(acme_console, upstream):
    app = make_app(acme_console, tools=[CALCULATOR])
    upstream.script(
        "chat",
        tool_call("calculator", {"expression": "17 * 23"}, call_id="c1"),
        tool_call("calculator", {"expression": "391 + 9"}, call_id="c2"),
        text("It is 400."),
    )
    out = play(acme_console, app["id"], "What is 17*23+9?")
    assert out["text"] == "It is 400."
    [first, second, third] = [r.body for r in upstream.requests_for("chat")]
    assert [t["function"]["name"] for t in first["tools"]] == ["calculator"]
    assert second["messages"][-2]["tool_calls"][0]["id"] == "c1"
    assert second["messages"][-1] == {"role": "tool", "content": "391", "tool_call_id": "c1"}
    assert third["messages"][-1]["content"] == "400"
    assert [t["action"] for t in out["thoughts"]] == ["calculator", "calculator"]
    assert out["thoughts"][0]["action_input"] == {"expression": "17 * 23"}
    assert out["thoughts"][0]["observation"] == "391"

    run = Run.objects.get()
    assert run.status == "succeeded" and run.answer == "It is 400." and run.version is None
    assert [(s.kind, s.name) for s in run.steps.all()] == [
        ("model", "agent-chat"),
        ("tool", "calculator"),
        ("model", "agent-chat"),
        ("tool", "calculator"),
        ("model", "agent-chat"),
    ]


def test_two_tool_calls_in_one_step(acme_console, upstream):
    app = make_app(acme_console, tools=[CALCULATOR])
    upstream.script(
        "chat",
        tool_calls(
            ("calculator", {"expression": "2+2"}, "a"), ("calculator", {"expression": "3*3"}, "b")
        ),
        text("4 and 9"),
    )
    assert play(acme_console, app["id"], "both")["text"] == "4 and 9"
    tool_messages = [
        m for m in upstream.requests_for("chat")[-1].body["messages"] if m["role"] == "tool"
    ]
    assert [(m["tool_call_id"], m["content"]) for m in tool_messages] == [("a", "4"), ("b", "9")]


@pytest.mark.parametrize(
    ("name", "arguments", "observed"),
    [
        ("calculator", {"expression": "1/0"}, "division by zero"),
        ("calculator", "{not json", "not valid JSON"),
        ("calculator", {"wrong": 1}, "arguments.expression"),
        ("weather", {"city": "x"}, "There is no tool named 'weather'"),
    ],
)
def test_a_failing_tool_call_is_fed_back_not_fatal(
    acme_console, upstream, name, arguments, observed
):
    app = make_app(acme_console, tools=[CALCULATOR])
    upstream.script("chat", tool_call(name, arguments, call_id="c1"), text("Sorry, I could not."))
    out = play(acme_console, app["id"], "try")
    assert out["text"] == "Sorry, I could not."
    fed_back = upstream.requests_for("chat")[-1].body["messages"][-1]
    assert fed_back["role"] == "tool" and fed_back["content"].startswith("Error: ")
    assert observed in fed_back["content"]
    step = Run.objects.get().steps.get(kind="tool")
    assert observed in step.error


def test_the_iteration_limit_makes_the_last_call_answer_without_tools(acme_console, upstream):
    app = make_app(acme_console, tools=[CALCULATOR], max_iterations=3)
    upstream.script(
        "chat",
        tool_call("calculator", {"expression": "1+1"}),
        tool_call("calculator", {"expression": "2+2"}),
        text("Enough: 4."),
    )
    assert play(acme_console, app["id"], "loop")["text"] == "Enough: 4."
    sent = [r.body for r in upstream.requests_for("chat")]
    assert len(sent) == 3
    assert "tools" in sent[0] and "tools" in sent[1] and "tools" not in sent[2]


def test_react_fallback_for_a_model_without_native_tool_calls(acme_console, upstream):
    app = make_app(acme_console, model="plain-chat", tools=[CALCULATOR])
    upstream.script(
        "chat",
        text('Thought: I should compute.\nAction: calculator\nAction Input: {"expression": "6*7"}'),
        text("Thought: I know it now.\nFinal Answer: The answer is 42."),
    )
    out = play(acme_console, app["id"], "6 times 7?")
    assert out["text"] == "The answer is 42."
    first, second = [r.body for r in upstream.requests_for("chat")]
    assert "tools" not in first
    assert "Action Input:" in first["messages"][0]["content"]  # the ReAct instructions
    assert first["stop"] == ["Observation:"]
    assert second["messages"][-1] == {"role": "user", "content": "Observation: 42"}
    assert out["thoughts"][0]["thought"] == "I should compute."
    assert out["thoughts"][0]["action_input"] == {"expression": "6*7"}


def test_react_reply_without_markers_is_the_answer(acme_console, upstream):
    app = make_app(acme_console, model="plain-chat", tools=[CALCULATOR])
    upstream.script("chat", text("Just an answer."))
    assert play(acme_console, app["id"], "hi")["text"] == "Just an answer."


def test_native_mode_on_a_model_without_it_is_refused(acme_console, upstream):
    app = make_app(acme_console, model="plain-chat", tools=[CALCULATOR], tool_calling="native")
    response = acme_console.post(f"/apps/{app['id']}/playground", {"prompt": "x", "stream": False})
    assert response.status_code == 400
    assert "tool_calls" in response.json()["message"]


def test_prompt_variables_are_filled(acme_console, upstream):
    app = make_app(
        acme_console,
        system_prompt="You serve {{company}} customers in {{ language }}.",
        variables=[
            {"name": "company", "required": True},
            {"name": "language", "default": "English"},
        ],
    )
    out = play(acme_console, app["id"], "hi", variables={"company": "Acme"})
    assert out["text"] == "echo: hi"
    system = upstream.requests_for("chat")[-1].body["messages"][0]["content"]
    assert system == "You serve Acme customers in English."

    response = acme_console.post(f"/apps/{app['id']}/playground", {"prompt": "hi", "stream": False})
    assert response.status_code == 400
    assert "'company'" in response.json()["message"]


def test_sessions_remember_the_configured_rounds(acme_console, upstream):
    app = make_app(acme_console, memory_rounds=2)
    first = play(acme_console, app["id"], "one")
    session_id = first["session_id"]
    for prompt in ("two", "three"):
        assert (
            play(acme_console, app["id"], prompt, session_id=session_id)["session_id"] == session_id
        )
    play(acme_console, app["id"], "four", session_id=session_id)
    sent = upstream.requests_for("chat")[-1].body["messages"]
    assert [m["content"] for m in sent[1:]] == ["two", "echo: two", "three", "echo: three", "four"]

    session = acme_console.get(f"/apps/{app['id']}/sessions/{session_id}").json()
    assert [m["content"] for m in session["messages"]] == [
        "three",
        "echo: three",
        "four",
        "echo: four",
    ]


def test_an_unknown_or_expired_session_starts_a_new_one(acme_console, upstream, settings):
    app = make_app(acme_console)
    first = play(acme_console, app["id"], "remember me")
    other = play(acme_console, app["id"], "who?", session_id="no-such-session")
    assert other["session_id"] not in ("no-such-session", first["session_id"])

    settings.AGENT_SESSION_IDLE_SECONDS = 0
    later = play(acme_console, app["id"], "still there?", session_id=first["session_id"])
    assert later["session_id"] != first["session_id"]
    assert len(upstream.requests_for("chat")[-1].body["messages"]) == 2  # system + prompt


def test_messages_win_over_the_session(acme_console, upstream):
    app = make_app(acme_console)
    session_id = play(acme_console, app["id"], "stored turn")["session_id"]
    messages = [
        {"role": "user", "content": "given turn"},
        {"role": "assistant", "content": "given answer"},
        {"role": "user", "content": "now"},
    ]
    play(acme_console, app["id"], None, messages=messages, session_id=session_id)
    sent = upstream.requests_for("chat")[-1].body["messages"]
    assert [m["content"] for m in sent[1:]] == ["given turn", "given answer", "now"]


def test_every_model_call_is_metered_with_the_app(acme_console, upstream):
    app = make_app(acme_console, tools=[CALCULATOR])
    upstream.script("chat", tool_call("calculator", {"expression": "1+1"}), text("2"))
    play(acme_console, app["id"], "1+1?")
    flush_usage()
    records = UsageRecord.objects.filter(capability="chat")
    assert records.count() == 2
    assert {str(r.app_id) for r in records} == {app["id"]}
    assert {r.surface for r in records} == {"playground"}


def test_quotas_bind_calls_inside_a_run(acme_console, upstream, acme):
    app = make_app(acme_console, tools=[CALCULATOR])
    Quota.objects.create(workspace=acme, requests_per_minute=1)
    upstream.script("chat", tool_call("calculator", {"expression": "1+1"}), text("2"))
    response = acme_console.post(f"/apps/{app['id']}/playground", {"prompt": "x", "stream": False})
    assert response.status_code == 429
    assert response.json()["code"] == "Throttling.RateQuota"
    run = Run.objects.get()
    assert run.status == "failed" and run.error_code == "Throttling.RateQuota"
    assert len(upstream.requests_for("chat")) == 1


def test_an_upstream_failure_fails_the_run_with_its_trace(acme_console, upstream):
    from tests.upstream import error

    app = make_app(acme_console)
    upstream.script("chat", error(500, "boom"))
    response = acme_console.post(f"/apps/{app['id']}/playground", {"prompt": "x", "stream": False})
    assert response.status_code == 502
    run = Run.objects.get()
    assert run.status == "failed" and run.error_code == "UpstreamServerError"
    assert json.loads(json.dumps(run.error_message))
