"""Another workspace's workflow apps answer 404 on every endpoint, to its members, and
nothing of them changes; another workspace's knowledge bases, tools, models and apps named
in a node are validation problems; a paused run is not resumed from another workspace."""

import pytest

from apps.applications.models import AgentApp, AppVersion, Run
from tests.applications.conftest import make_app, play, publish
from tests.applications.workflows.conftest import chain, definition, node
from tests.console import ConsoleClient
from tests.knowledge.conftest import create_kb
from tests.tenancy import assert_foreign_object_is_not_found

pytestmark = pytest.mark.django_db(transaction=True)


def flow() -> dict:
    return definition(
        [
            node("start", "start"),
            node("llm_1", "llm", model="agent-chat", prompt="{{ sys.query }}"),
            node("end", "end", output="{{ llm_1.text }}"),
        ],
        chain("start", "llm_1", "end"),
    )


@pytest.fixture
def acme_flow(acme_console, upstream):
    response = acme_console.post("/apps", {"name": "Flow", "kind": "workflow", "draft": flow()})
    assert response.status_code == 201, response.content
    app = response.json()
    publish(acme_console, app["id"], notes="v1")
    play(acme_console, app["id"], "hello")
    return {"id": app["id"], "run": str(Run.objects.get().pk), "draft": app["draft"]}


def _snapshot():
    return (
        list(AgentApp.objects.values("id", "name", "draft")),
        list(AppVersion.objects.values("id", "number", "config")),
        list(Run.objects.values("id", "status")),
    )


def test_every_endpoint_hides_another_workspaces_workflow(acme_flow, acme, globex, bob):
    app = acme_flow["id"]
    endpoints = [
        ("GET", f"/apps/{app}", None),
        ("PUT", f"/apps/{app}/draft", acme_flow["draft"]),
        ("POST", f"/apps/{app}/workflow/check", acme_flow["draft"]),
        ("GET", f"/apps/{app}/export", None),
        ("POST", f"/apps/{app}/playground", {"prompt": "x", "stream": False}),
        ("POST", f"/apps/{app}/publish", {"notes": "x"}),
        ("GET", f"/apps/{app}/versions", None),
        ("GET", f"/apps/{app}/versions/1/diff", None),
        ("POST", f"/apps/{app}/versions/1/rollback", None),
        ("GET", f"/apps/{app}/runs", None),
        ("GET", f"/apps/{app}/runs/{acme_flow['run']}", None),
        ("DELETE", f"/apps/{app}", None),
    ]
    for method, path, body in endpoints:
        assert_foreign_object_is_not_found(
            method=method,
            path=path,
            outsider=bob,
            outsider_workspace=globex,
            owner_workspace=acme,
            json=body,
            snapshot=_snapshot,
        )


def test_the_gallery_and_node_types_are_everyones_and_imports_land_in_the_callers(
    acme_flow, acme_console, bob, chat
):
    bobs = ConsoleClient().as_user(bob, "globex")
    assert bobs.get("/workflow/node-types").status_code == 200
    assert bobs.get("/workflow/templates").status_code == 200
    exported = acme_console.get(f"/apps/{acme_flow['id']}/export").content.decode()
    imported = bobs.post("/apps/import", {"yaml": exported})
    assert imported.status_code == 201, imported.content
    assert AgentApp.objects.get(pk=imported.json()["id"]).workspace.slug == "globex"
    assert [a["name"] for a in bobs.get("/apps").json()] == ["Flow"]


def test_another_workspaces_things_named_in_a_node_are_problems(acme_console, bob, chat):
    bobs = ConsoleClient().as_user(bob, "globex")
    their_kb = create_kb(bobs, name="Theirs")
    their_app = make_app(bobs, name="Their agent")
    publish(bobs, their_app["id"])
    their_tool = bobs.post(
        "/http-tools",
        {"name": "lookup", "method": "GET", "url": "https://api.example.com/x"},
    ).json()
    mine = acme_console.post("/apps", {"name": "Flow", "kind": "workflow"}).json()
    nodes = [
        node("start", "start"),
        node("search", "knowledge_retrieval", knowledge_base_ids=[their_kb["id"]]),
        node("call", "tool", tool={"type": "http", "id": their_tool["id"]}),
        node("delegate", "agent", app_id=their_app["id"]),
        node("llm_1", "llm", model="not-granted-here"),
        node("end", "end"),
    ]
    data = definition(nodes, chain(*[n["id"] for n in nodes]))
    body = acme_console.post(f"/apps/{mine['id']}/workflow/check", data).json()
    named = {(p["node_id"], p["setting"]): p["message"] for p in body["problems"]}
    assert "no knowledge base" in named[("search", "data.knowledge_base_ids")]
    assert "no HTTP tool" in named[("call", "data.tool")]
    assert "no app" in named[("delegate", "data.app_id")]
    assert "is not a chat model of this workspace" in named[("llm_1", "data.model")]
    saved = acme_console.put(f"/apps/{mine['id']}/draft", data)
    assert saved.status_code == 400
    assert saved.json()["code"] == "WorkflowInvalid"
    for secret in (their_kb["name"], their_app["name"]):
        assert secret not in saved.content.decode()
