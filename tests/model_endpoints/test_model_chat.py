"""The console's model playground: a signed-in member chats with a model granted to the
workspace (``POST /console/api/models/chat``), streamed, metered with surface ``console``."""

import json

import httpx
import pytest

from apps.usage.models import UsageRecord
from apps.usage.services import flush_usage
from tests.console import ConsoleClient
from tests.upstream import error, stream, text

pytestmark = pytest.mark.django_db(transaction=True)

HELLO = {"model": "qwen-plus", "messages": [{"role": "user", "content": "hi"}]}


def events_of(body: str) -> list[tuple[str, dict]]:
    return [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1][6:]))
        for block in body.strip().split("\n\n")
    ]


def session_client(platform_url: str, console: ConsoleClient) -> httpx.Client:
    client = httpx.Client(base_url=f"{platform_url}/console/api")
    client.cookies.set("sessionid", console.client.cookies["sessionid"].value)
    client.cookies.set("csrftoken", "x" * 32)
    client.headers.update({"X-Workspace": "acme", "X-CSRFToken": "x" * 32})
    return client


def test_a_member_chats_with_a_granted_model_in_one_answer(granted, upstream, alice):
    upstream.script("chat", text("Hello there", prompt_tokens=5, completion_tokens=2))
    console = ConsoleClient().as_user(alice, "acme")
    response = console.post("/models/chat", {**HELLO, "stream": False, "temperature": 0.5})
    assert response.status_code == 200, response.content
    assert response.json() == {
        "text": "Hello there",
        "finish_reason": "stop",
        "usage": {"input_tokens": 5, "output_tokens": 2},
    }
    [sent] = upstream.requests_for("chat")
    assert sent.body["model"] == "up-chat"
    assert sent.body["temperature"] == 0.5
    flush_usage()
    record = UsageRecord.objects.get()
    assert (record.model, record.surface, record.api_key) == ("qwen-plus", "console", None)


def test_the_playground_streams_text_then_done(granted, upstream, alice, platform_url):
    upstream.script("chat", stream(["Once", " upon", " a time"]))
    console = ConsoleClient().as_user(alice, "acme")
    response = session_client(platform_url, console).post("/models/chat", json=HELLO)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    events = events_of(response.text)
    assert [name for name, _ in events] == ["text", "text", "text", "done"]
    assert "".join(data["text"] for name, data in events if name == "text") == "Once upon a time"
    assert events[-1][1]["text"] == "Once upon a time"


def test_an_upstream_refusal_is_an_error_status_in_the_one_shape(
    granted, upstream, alice, platform_url
):
    upstream.script("chat", error(429, "upstream busy"))
    console = ConsoleClient().as_user(alice, "acme")
    response = session_client(platform_url, console).post("/models/chat", json=HELLO)
    assert response.status_code == 429, response.text
    assert set(response.json()) == {"code", "message", "request_id"}


def test_only_chat_models_of_this_workspace(granted, upstream, alice, vera):
    console = ConsoleClient().as_user(alice, "acme")
    embed = console.post("/models/chat", {**HELLO, "model": "text-embedding-v3"})
    assert embed.status_code == 400
    assert embed.json()["code"] == "InvalidParameter"
    unknown = console.post("/models/chat", {**HELLO, "model": "gpt-nothing"})
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "ModelNotFound"
    # Viewers may use the workspace's models (the permission matrix's playground row).
    upstream.script("chat", text("hi vera"))
    viewer = ConsoleClient().as_user(vera, "acme")
    assert viewer.post("/models/chat", {**HELLO, "stream": False}).json()["text"] == "hi vera"


def test_another_workspace_cannot_chat_with_acmes_model(granted, upstream, bob):
    # bob (globex) names acme's model: globex was granted nothing, and acme is not his.
    own = ConsoleClient().as_user(bob, "globex").post("/models/chat", HELLO)
    assert (own.status_code, own.json()["code"]) == (404, "ModelNotFound")
    foreign = ConsoleClient().as_user(bob, "acme").post("/models/chat", HELLO)
    assert (foreign.status_code, foreign.json()["code"]) == (404, "NotFound")
    assert upstream.requests_for("chat") == []
    assert not UsageRecord.objects.exists() and flush_usage() == 0


def test_an_api_key_may_chat_too_and_is_recorded(granted, upstream):
    upstream.script("chat", text("ok"))
    console = ConsoleClient().with_key(granted["acme_key"])
    assert console.post("/models/chat", {**HELLO, "stream": False}).json()["text"] == "ok"
    flush_usage()
    assert UsageRecord.objects.get().api_key.name == "program"
