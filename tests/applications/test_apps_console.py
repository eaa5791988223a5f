"""Apps in the console API: create, edit the draft, publish with notes, list and diff
versions, roll back; who may do what; the playground's stream; sessions and runs."""

import json

import pytest

from apps.applications.models import AppVersion, Run
from tests.applications.conftest import make_app, play, publish
from tests.console import ConsoleClient
from tests.knowledge.conftest import create_kb
from tests.upstream import stream, tool_call

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_with_defaults(acme_console):
    app = make_app(acme_console, name="Support bot")
    assert app["name"] == "Support bot"
    assert app["draft"]["model"] == "agent-chat"  # the workspace's default chat model
    assert app["draft"]["memory_rounds"] == 10
    assert app["published_version"] is None and app["version_count"] == 0
    assert [a["id"] for a in acme_console.get("/apps").json()] == [app["id"]]


@pytest.mark.parametrize(
    ("draft", "message"),
    [
        ({"model": "nope"}, "'nope' is not a chat model"),
        ({"model": "stub-embed"}, "not a chat model"),
        (
            {"knowledge": {"knowledge_base_ids": ["00000000-0000-0000-0000-000000000001"]}},
            "no knowledge base",
        ),
        ({"tools": [{"type": "plugin", "id": "no_such_tool"}]}, "no tool plugin no_such_tool"),
        (
            {"tools": [{"type": "http", "id": "00000000-0000-0000-0000-000000000001"}]},
            "no HTTP tool",
        ),
        ({"tools": [{"type": "http", "id": "not-a-uuid"}]}, "no HTTP tool not-a-uuid"),
        ({"tools": [{"type": "plugin", "id": "calculator"}] * 2}, "listed twice"),
        ({"temperature": 0.5}, "temperature: Extra inputs are not permitted"),
        ({"parameters": {"temperature": 5}}, "parameters.temperature:"),
        ({"max_iterations": 0}, "max_iterations:"),
        ({"variables": [{"name": "bad name"}]}, "variables.0.name:"),
    ],
)
def test_a_bad_draft_is_refused_and_nothing_changes(acme_console, draft, message):
    app = make_app(acme_console)
    response = acme_console.put(f"/apps/{app['id']}/draft", draft)
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "InvalidParameter"
    assert message in response.json()["message"]
    assert acme_console.get(f"/apps/{app['id']}").json()["draft"] == app["draft"]


def test_publish_needs_a_complete_draft(acme_console):
    app = make_app(acme_console)
    draft = {**app["draft"], "system_prompt": "Hi {{name}}"}
    assert acme_console.put(f"/apps/{app['id']}/draft", draft).status_code == 200
    response = acme_console.post(f"/apps/{app['id']}/publish", {})
    assert response.status_code == 400
    assert "{{name}}" in response.json()["message"]

    draft = {**app["draft"], "model": ""}
    acme_console.put(f"/apps/{app['id']}/draft", draft)
    response = acme_console.post(f"/apps/{app['id']}/publish", {})
    assert "choose a chat model" in response.json()["message"]
    disabled = {**app["draft"], "tools": [{"type": "plugin", "id": "diagnostics_shell"}]}
    acme_console.put(f"/apps/{app['id']}/draft", disabled)
    response = acme_console.post(f"/apps/{app['id']}/publish", {})
    assert "not enabled in this workspace" in response.json()["message"]
    assert AppVersion.objects.count() == 0


def test_versions_diff_and_rollback(acme_console, alice):
    app = make_app(acme_console, system_prompt="Version one.")
    v1 = publish(acme_console, app["id"], notes="First release")
    assert (v1["number"], v1["notes"], v1["published_by"]) == (1, "First release", alice.email)

    draft = {**app["draft"], "system_prompt": "Version two.", "memory_rounds": 3}
    acme_console.put(f"/apps/{app['id']}/draft", draft)
    diff = acme_console.get(f"/apps/{app['id']}/versions/1/diff").json()
    assert diff["changes"] == [
        {"path": "memory_rounds", "before": 10, "after": 3},
        {"path": "system_prompt", "before": "Version one.", "after": "Version two."},
    ]
    publish(acme_console, app["id"], notes="Shorter memory")
    listed = acme_console.get(f"/apps/{app['id']}/versions").json()
    assert [(v["number"], v["notes"]) for v in listed] == [
        (2, "Shorter memory"),
        (1, "First release"),
    ]
    assert acme_console.get(f"/apps/{app['id']}").json()["published_version"] == 2
    between = acme_console.get(f"/apps/{app['id']}/versions/1/diff?against=2").json()
    assert {c["path"] for c in between["changes"]} == {"memory_rounds", "system_prompt"}

    rolled = acme_console.post(f"/apps/{app['id']}/versions/1/rollback").json()
    assert rolled["draft"]["system_prompt"] == "Version one."
    assert rolled["published_version"] == 2  # rollback edits the draft; publish makes it live
    assert publish(acme_console, app["id"], notes="Back to one")["number"] == 3
    assert (
        acme_console.get(f"/apps/{app['id']}/versions/3").json()["config"]["system_prompt"]
        == "Version one."
    )
    assert acme_console.get(f"/apps/{app['id']}/versions/9").status_code == 404
    assert acme_console.get(f"/apps/{app['id']}/versions/1/diff?against=x").status_code == 400


def test_the_api_runs_the_latest_version_not_the_draft(
    acme_console, acme_key, upstream, platform_url
):
    import dashscope
    from dashscope import Application

    app = make_app(acme_console, system_prompt="Published prompt.")
    publish(acme_console, app["id"])
    acme_console.put(f"/apps/{app['id']}/draft", {**app["draft"], "system_prompt": "Draft prompt."})
    dashscope.base_http_api_url = f"{platform_url}/api/v1"
    Application.call(app_id=app["id"], api_key=acme_key, prompt="x")
    assert upstream.requests_for("chat")[-1].body["messages"][0]["content"] == "Published prompt."
    play(acme_console, app["id"], "x")
    assert upstream.requests_for("chat")[-1].body["messages"][0]["content"] == "Draft prompt."


def test_roles(acme_console, charlie, vera, chat):
    app = make_app(acme_console)
    developer = ConsoleClient().as_user(charlie, "acme")
    assert developer.put(f"/apps/{app['id']}/draft", app["draft"]).status_code == 200
    assert developer.post(f"/apps/{app['id']}/publish", {}).status_code == 201
    viewer = ConsoleClient().as_user(vera, "acme")
    assert viewer.get(f"/apps/{app['id']}").status_code == 200
    assert viewer.get(f"/apps/{app['id']}/versions").status_code == 200
    assert (
        viewer.post(f"/apps/{app['id']}/playground", {"prompt": "hi", "stream": False}).status_code
        == 200
    )
    for method, path, body in [
        ("POST", "/apps", {"name": "x"}),
        ("PATCH", f"/apps/{app['id']}", {"name": "y"}),
        ("PUT", f"/apps/{app['id']}/draft", app["draft"]),
        ("POST", f"/apps/{app['id']}/publish", {}),
        ("POST", f"/apps/{app['id']}/versions/1/rollback", None),
        ("DELETE", f"/apps/{app['id']}", None),
    ]:
        response = viewer.request(method, path, body)
        assert response.status_code == 403, (method, path)


def test_rename_and_delete(acme_console):
    app = make_app(acme_console)
    renamed = acme_console.patch(
        f"/apps/{app['id']}", {"name": "Renamed", "description": "d"}
    ).json()
    assert (renamed["name"], renamed["description"]) == ("Renamed", "d")
    assert acme_console.delete(f"/apps/{app['id']}").status_code == 204
    assert acme_console.get(f"/apps/{app['id']}").status_code == 404


def test_playground_streams_thoughts_text_and_done(acme_console, upstream, platform_url, alice):
    import httpx

    app = make_app(acme_console, tools=[{"type": "plugin", "id": "calculator"}])
    upstream.script("chat", tool_call("calculator", {"expression": "2+3"}), stream(["fi", "ve"]))
    client = httpx.Client(base_url=f"{platform_url}/console/api")
    session_cookie = acme_console.client.cookies["sessionid"].value
    client.cookies.set("sessionid", session_cookie)
    csrf = "x" * 32
    client.cookies.set("csrftoken", csrf)
    response = client.post(
        f"/apps/{app['id']}/playground",
        json={"prompt": "2+3"},
        headers={"X-Workspace": "acme", "X-CSRFToken": csrf},
    )
    assert response.status_code == 200, response.text
    events = [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1][6:]))
        for block in response.text.strip().split("\n\n")
    ]
    assert [name for name, _ in events] == ["thought", "text", "text", "done"]
    assert events[0][1]["observation"] == "5"
    assert events[-1][1]["text"] == "five"
    run = Run.objects.get()
    assert (run.surface, run.user, run.status) == ("playground", alice, "succeeded")


def test_runs_and_their_steps(acme_console, upstream):
    app = make_app(acme_console, tools=[{"type": "plugin", "id": "calculator"}])
    upstream.script("chat", tool_call("calculator", {"expression": "2+3"}), stream(["5"]))
    out = play(acme_console, app["id"], "2+3")
    [run] = acme_console.get(f"/apps/{app['id']}/runs").json()["items"]
    assert (run["status"], run["answer"], run["session_id"]) == (
        "succeeded",
        "5",
        out["session_id"],
    )
    detail = acme_console.get(f"/apps/{app['id']}/runs/{run['id']}").json()
    assert [(s["index"], s["kind"]) for s in detail["steps"]] == [
        (1, "model"),
        (2, "tool"),
        (3, "model"),
    ]
    assert detail["steps"][1]["input"] == {"arguments": {"expression": "2+3"}}
    assert detail["steps"][1]["output"]["content"] == "5"
    assert acme_console.get(f"/apps/{app['id']}/runs?status=failed").json()["items"] == []
    sessions = acme_console.get(f"/apps/{app['id']}/sessions").json()["items"]
    assert [s["id"] for s in sessions] == [out["session_id"]]
    assert acme_console.delete(f"/apps/{app['id']}/sessions/{out['session_id']}").status_code == 204
    assert acme_console.get(f"/apps/{app['id']}/sessions").json()["items"] == []


def test_knowledge_bases_of_another_workspace_cannot_be_attached(acme_console, bob, chat):
    globex_console = ConsoleClient().as_user(bob, "globex")
    foreign_kb = create_kb(globex_console, name="Globex secrets")
    app = make_app(acme_console)
    draft = {**app["draft"], "knowledge": {"knowledge_base_ids": [foreign_kb["id"]]}}
    response = acme_console.put(f"/apps/{app['id']}/draft", draft)
    assert response.status_code == 400
    assert "no knowledge base" in response.json()["message"]
