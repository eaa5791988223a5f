"""The console API of workflow apps: create (blank, from a template, from a definition),
save the draft only when valid, publish, versions and diff, the check endpoint, node types,
templates, YAML export and import, the playground's node events, runs with their nodes."""

import json

import pytest
import yaml

from apps.applications.models import AgentApp, Run
from apps.knowledge.models import KnowledgeBase
from tests.applications.conftest import make_app, play
from tests.applications.workflows.conftest import chain, definition, edge, node
from tests.knowledge.conftest import create_kb
from tests.upstream import text as reply
from tests.upstream import tool_call

pytestmark = pytest.mark.django_db


def flow(prompt: str = "Answer: {{ sys.query }}", **start) -> dict:
    """start → llm → end."""
    return definition(
        [
            node("start", "start", **start),
            node("llm_1", "llm", model="agent-chat", prompt=prompt),
            node("end", "end", output="{{ llm_1.text }}"),
        ],
        chain("start", "llm_1", "end"),
    )


def create(console, **fields) -> dict:
    response = console.post("/apps", {"name": "Flow", "kind": "workflow", **fields})
    assert response.status_code == 201, response.content
    return response.json()


def error(response, status: int = 400) -> dict:
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "request_id"}
    return body


# --- create and save ----------------------------------------------------------------------------


def test_a_blank_workflow_is_a_start_joined_to_an_end(acme_console):
    app = create(acme_console)
    assert app["kind"] == "workflow"
    draft = app["draft"]
    assert [(n["id"], n["type"]) for n in draft["nodes"]] == [("start", "start"), ("end", "end")]
    assert [(e["source"], e["target"]) for e in draft["edges"]] == [("start", "end")]
    assert draft["nodes"][1]["position"]["x"] > draft["nodes"][0]["position"]["x"]
    listed = acme_console.get("/apps").json()
    assert [a["kind"] for a in listed] == ["workflow"]


def test_an_agent_app_is_still_the_default(acme_console):
    assert make_app(acme_console)["kind"] == "agent"


def test_create_from_a_template_or_a_definition(acme_console):
    app = create(acme_console, template="plan_and_solve")
    assert {n["id"] for n in app["draft"]["nodes"]} >= {"plan", "steps", "solve", "report"}
    assert app["draft"]["nodes"][1]["data"]["model"] == "agent-chat"  # the default model
    made = create(acme_console, draft=flow())
    assert [n["id"] for n in made["draft"]["nodes"]] == ["start", "llm_1", "end"]


def test_create_refuses_bad_input(acme_console):
    body = error(acme_console.post("/apps", {"name": "x", "kind": "workflow", "template": "nope"}))
    assert "no template 'nope'" in body["message"]
    body = error(acme_console.post("/apps", {"name": "x", "template": "intent_rag"}))
    assert "kind 'workflow'" in body["message"]
    body = error(acme_console.post("/apps", {"name": "x", "kind": "robot"}))
    assert body["code"] == "InvalidParameter"
    both = {"name": "x", "kind": "workflow", "template": "intent_rag", "draft": flow()}
    assert "not both" in error(acme_console.post("/apps", both))["message"]
    bad = flow("{{ ghost.text }}")
    body = error(acme_console.post("/apps", {"name": "x", "kind": "workflow", "draft": bad}))
    assert body["code"] == "WorkflowInvalid"
    assert "node 'llm_1' (prompt): ghost.text is used before it is produced" in body["message"]
    assert AgentApp.objects.count() == 0


def test_the_draft_saves_only_when_valid(acme_console):
    app = create(acme_console)
    saved = acme_console.put(f"/apps/{app['id']}/draft", flow())
    assert saved.status_code == 200, saved.content
    assert [n["id"] for n in saved.json()["draft"]["nodes"]] == ["start", "llm_1", "end"]
    bad_id = flow()
    bad_id["nodes"][2]["id"] = "the end"
    body = error(acme_console.put(f"/apps/{app['id']}/draft", bad_id))
    assert body["message"] == (
        "The workflow is not valid: node 'the end' (id): String should match pattern "
        "'^[A-Za-z_][A-Za-z0-9_]{0,63}$'."
    )
    bad = flow()
    bad["nodes"][1]["data"]["model"] = "gpt-nowhere"
    bad["edges"].append(edge("end", "llm_1"))
    body = error(acme_console.put(f"/apps/{app['id']}/draft", bad))
    assert body["code"] == "WorkflowInvalid"
    assert "node 'llm_1' (data.model): 'gpt-nowhere' is not a chat model" in body["message"]
    assert "node 'end'" in body["message"]
    assert acme_console.get(f"/apps/{app['id']}").json()["draft"] == saved.json()["draft"]


def test_the_draft_must_be_of_the_apps_kind(acme_console):
    workflow, agent = create(acme_console), make_app(acme_console)
    body = error(acme_console.put(f"/apps/{workflow['id']}/draft", {"model": "agent-chat"}))
    assert body["code"] == "WorkflowInvalid"
    assert "workflow (model): Extra inputs are not permitted" in body["message"]
    body = error(acme_console.put(f"/apps/{agent['id']}/draft", flow()))
    assert body["code"] == "InvalidParameter"
    assert "draft.nodes: Extra inputs are not permitted" in body["message"]
    fine = acme_console.put(f"/apps/{agent['id']}/draft", {"model": "plain-chat"})
    assert fine.status_code == 200 and fine.json()["draft"]["model"] == "plain-chat"
    assert error(acme_console.put(f"/apps/{workflow['id']}/draft", raw="[1]"))


# --- publish, versions, diff, rollback ---------------------------------------------------------


def test_publish_versions_diff_and_rollback(acme_console):
    app = create(acme_console, draft=flow())
    first = acme_console.post(f"/apps/{app['id']}/publish", {"notes": "v1"})
    assert first.status_code == 201, first.content
    assert first.json()["config"]["nodes"][1]["id"] == "llm_1"
    acme_console.put(f"/apps/{app['id']}/draft", flow("Shorter: {{ sys.query }}"))
    diff = acme_console.get(f"/apps/{app['id']}/versions/1/diff").json()
    assert [c["path"] for c in diff["changes"]] == ["nodes.llm_1.data.prompt"]
    assert diff["changes"][0]["after"] == "Shorter: {{ sys.query }}"
    assert acme_console.post(f"/apps/{app['id']}/publish", {}).status_code == 201
    assert [v["number"] for v in acme_console.get(f"/apps/{app['id']}/versions").json()] == [2, 1]
    back = acme_console.post(f"/apps/{app['id']}/versions/1/rollback")
    assert back.json()["draft"]["nodes"][1]["data"]["prompt"] == "Answer: {{ sys.query }}"
    assert acme_console.get(f"/apps/{app['id']}").json()["published_version"] == 2


def test_publish_checks_again(acme_console):
    kb = create_kb(acme_console, name="Docs")
    data = flow()
    data["nodes"].insert(1, node("search", "knowledge_retrieval", knowledge_base_ids=[kb["id"]]))
    data["edges"] = chain("start", "search", "llm_1", "end")
    app = create(acme_console, draft=data)
    KnowledgeBase.objects.filter(pk=kb["id"]).delete()
    body = error(acme_console.post(f"/apps/{app['id']}/publish", {}))
    assert (
        f"node 'search' (data.knowledge_base_ids): no knowledge base '{kb['id']}'"
        in (body["message"])
    )


# --- the editor's endpoints ---------------------------------------------------------------------


def test_check_lists_problems_and_variables_without_saving(acme_console):
    app = create(acme_console)
    bad = flow("{{ ghost.text }}", variables=[{"name": "city", "type": "string"}])
    response = acme_console.post(f"/apps/{app['id']}/workflow/check", bad)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["problems"] == [
        {
            "node_id": "llm_1",
            "setting": "prompt",
            "message": "ghost.text is used before it is produced: there is no node 'ghost'.",
        }
    ]
    assert body["variables"]["start"] == {"query": "string", "city": "string"}
    assert body["variables"]["llm_1"] == {"text": "string"}
    assert body["variables"]["sys"] == {"query": "string", "session_id": "string"}
    good = acme_console.post(f"/apps/{app['id']}/workflow/check", flow()).json()
    assert good["problems"] == []
    schema_error = acme_console.post(f"/apps/{app['id']}/workflow/check", {"nodes": 3})
    assert schema_error.status_code == 200
    assert schema_error.json()["problems"][0]["setting"] == "nodes"
    assert acme_console.get(f"/apps/{app['id']}").json()["draft"] == app["draft"]


def test_check_refuses_a_body_that_is_not_an_object(acme_console):
    app = create(acme_console)
    for raw in ("[1, 2]", "not json", '"text"'):
        response = acme_console.post(f"/apps/{app['id']}/workflow/check", raw=raw)
        assert error(response)["code"] == "InvalidParameter"


def test_node_types_with_their_settings_schemas(acme_console):
    response = acme_console.get("/workflow/node-types")
    assert response.status_code == 200
    types = {t["type"]: t["settings_schema"] for t in response.json()}
    assert {"start", "end", "llm", "condition", "answer"} <= set(types)
    assert "prompt" in types["llm"]["properties"]
    assert types["llm"]["additionalProperties"] is False


def test_templates_with_the_workspaces_model(acme_console):
    listed = acme_console.get("/workflow/templates").json()
    assert [t["id"] for t in listed] == ["intent_rag", "document_summariser", "plan_and_solve"]
    assert all(t["name"] and t["description"] for t in listed)
    plan = next(t for t in listed if t["id"] == "plan_and_solve")["definition"]
    assert plan["nodes"][1]["data"]["model"] == "agent-chat"


# --- YAML ---------------------------------------------------------------------------------------


def test_export_and_import_round_trip(acme_console):
    app = create(acme_console, draft=flow(), description="Answers.")
    response = acme_console.get(f"/apps/{app['id']}/export")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    assert response["Content-Disposition"] == 'attachment; filename="Flow.yaml"'
    document = yaml.safe_load(response.content)
    assert document["ministudio_workflow"] == 1
    assert document["app"] == {"name": "Flow", "description": "Answers."}
    imported = acme_console.post("/apps/import", {"yaml": response.content.decode()})
    assert imported.status_code == 201, imported.content
    body = imported.json()
    assert (body["kind"], body["name"], body["description"]) == ("workflow", "Flow", "Answers.")
    assert body["draft"] == app["draft"]
    renamed = acme_console.post("/apps/import", {"yaml": response.content.decode(), "name": "Copy"})
    assert renamed.json()["name"] == "Copy"


def test_an_agent_app_does_not_export(acme_console):
    agent = make_app(acme_console)
    assert "Only workflow apps" in error(acme_console.get(f"/apps/{agent['id']}/export"))["message"]


def _document(**workflow) -> str:
    return yaml.safe_dump(
        {"ministudio_workflow": 1, "app": {"name": "Imported"}, "workflow": {**flow(), **workflow}}
    )


def test_import_refuses_bad_documents(acme_console):
    cases = {
        "key: [unclosed": "cannot be read (line 1",
        "- a list": "expected a mapping",
        "app: {name: x}\nworkflow: {}": "ministudio_workflow (the format's version) is missing",
        _document().replace("ministudio_workflow: 1", "ministudio_workflow: 9"): (
            "ministudio_workflow 9 is newer than this platform reads (1)"
        ),
        _document(format_version=2): "workflow.format_version 2 is newer",
        "ministudio_workflow: 1\napp: {name: x}": "workflow (the definition) is missing",
        "ministudio_workflow: 1\napp: {}\nworkflow: {}": "yaml: app.name: Field required",
        "ministudio_workflow: 1\nextra: 1\napp: {name: x}\nworkflow: {}": "unknown keys extra",
        "!!python/object/apply:os.system ['true']": "cannot be read",
    }
    for text, wanted in cases.items():
        body = error(acme_console.post("/apps/import", {"yaml": text}))
        assert wanted in body["message"], (text, body)
    invalid = error(acme_console.post("/apps/import", {"yaml": _document(nodes=[])}))
    assert invalid["code"] == "WorkflowInvalid"
    assert "needs a start node" in invalid["message"]
    assert error(acme_console.post("/apps/import", {"yaml": ""}))["code"] == "InvalidParameter"
    assert AgentApp.objects.count() == 0


# --- playground and runs ------------------------------------------------------------------------


def test_the_playground_runs_the_draft_with_the_start_variables(acme_console, upstream):
    app = create(
        acme_console,
        draft=flow(
            "{{ start.city }}: {{ sys.query }}",
            variables=[{"name": "city", "type": "string", "required": True}],
        ),
    )
    upstream.script("chat", reply("Sunny."))
    out = play(acme_console, app["id"], "weather?", variables={"city": "Paris"})
    assert out["text"] == "Sunny."
    assert out["waiting_for"] is None
    assert upstream.requests_for("chat")[-1].body["messages"][-1]["content"] == "Paris: weather?"
    missing = acme_console.post(f"/apps/{app['id']}/playground", {"prompt": "x", "stream": False})
    assert "input.biz_params.city" in error(missing)["message"]


def test_the_playground_refuses_an_invalid_draft(acme_console):
    app = create(acme_console, template="intent_rag")
    body = error(
        acme_console.post(f"/apps/{app['id']}/playground", {"prompt": "x", "stream": False})
    )
    assert body["code"] == "WorkflowInvalid"
    assert "node 'product_docs' (data.knowledge_base_ids)" in body["message"]


def _events(response) -> list[tuple[str, dict]]:
    return [
        (block.split("\n")[0].removeprefix("event: "), json.loads(block.split("\n")[1][6:]))
        for block in response.text.strip().split("\n\n")
    ]


@pytest.mark.django_db(transaction=True)
def test_the_playground_streams_node_events(acme_console, upstream, platform_url):
    import httpx

    app = create(acme_console, draft=flow())
    upstream.script("chat", reply("Hi."))
    client = httpx.Client(base_url=f"{platform_url}/console/api")
    client.cookies.set("sessionid", acme_console.client.cookies["sessionid"].value)
    client.cookies.set("csrftoken", "x" * 32)
    response = client.post(
        f"/apps/{app['id']}/playground",
        json={"prompt": "hello"},
        headers={"X-Workspace": "acme", "X-CSRFToken": "x" * 32},
    )
    assert response.status_code == 200, response.text
    events = _events(response)
    assert [name for name, _ in events] == [
        "node_started",
        "node_finished",
        "node_started",
        "node_finished",
        "node_started",
        "text",
        "node_finished",
        "done",
    ]
    started = events[2][1]
    assert (started["node_id"], started["node_type"]) == ("llm_1", "llm")
    assert events[3][1]["status"] == "succeeded"
    assert events[3][1]["outputs"] == {"text": "Hi."}
    assert events[-1][1]["text"] == "Hi."
    assert events[-1][1]["waiting_for"] is None


def test_runs_show_their_nodes(acme_console, upstream):
    app = create(acme_console, draft=flow())
    upstream.script("chat", reply("Hi."))
    play(acme_console, app["id"], "hello")
    [run] = acme_console.get(f"/apps/{app['id']}/runs").json()["items"]
    detail = acme_console.get(f"/apps/{app['id']}/runs/{run['id']}").json()
    assert [(s["kind"], s["node_id"]) for s in detail["steps"]] == [
        ("node", "start"),
        ("node", "llm_1"),
        ("model", "llm_1"),
        ("node", "end"),
    ]
    assert detail["children"] == []
    assert detail["parent_run_id"] is None
    waiting = acme_console.get(f"/apps/{app['id']}/runs?status=waiting")
    assert waiting.status_code == 200 and waiting.json()["items"] == []


def test_a_paused_run_resumes_in_the_playground(acme_console, upstream):
    data = definition(
        [
            node("start", "start"),
            node("ask", "human_input", question="Which colour for {{ sys.query }}?"),
            node("end", "end", output="{{ sys.query }} in {{ ask.answer }}"),
        ],
        chain("start", "ask", "end"),
    )
    app = create(acme_console, draft=data)
    first = play(acme_console, app["id"], "a bike")
    assert first["text"] == "Which colour for a bike?"
    assert first["waiting_for"] == {"node_id": "ask", "question": "Which colour for a bike?"}
    waiting = acme_console.get(f"/apps/{app['id']}/runs?status=waiting").json()["items"]
    assert [r["answer"] for r in waiting] == ["Which colour for a bike?"]
    second = play(acme_console, app["id"], "red", session_id=first["session_id"])
    assert second["waiting_for"] is None
    assert second["text"].endswith("in red")
    assert Run.objects.filter(status="succeeded").count() == 1


def test_a_run_lists_the_runs_it_started(acme_console, upstream):
    helper = make_app(acme_console, name="Helper", system_prompt="Help.")
    acme_console.post(f"/apps/{helper['id']}/publish", {})
    lead = {"model": "agent-chat", "tools": [{"type": "app", "id": helper["id"]}]}
    data = definition(
        [
            node("start", "start"),
            node("delegate", "agent", agent=lead, prompt="{{ sys.query }}"),
            node("end", "end", output="{{ delegate.text }}"),
        ],
        chain("start", "delegate", "end"),
    )
    app = create(acme_console, draft=data)
    upstream.script(
        "chat", tool_call("helper", {"prompt": "help"}), reply("Helped."), reply("Done.")
    )
    assert play(acme_console, app["id"], "help me")["text"] == "Done."
    parent = Run.objects.get(app_id=app["id"])
    detail = acme_console.get(f"/apps/{app['id']}/runs/{parent.pk}").json()
    [child] = detail["children"]
    assert (child["app_id"], child["parent_run_id"], child["answer"]) == (
        helper["id"],
        str(parent.pk),
        "Helped.",
    )
    assert any(s["node_id"] == "delegate" for s in detail["steps"])
    assert acme_console.get(f"/apps/{helper['id']}/runs/{child['id']}").json()["children"] == []
