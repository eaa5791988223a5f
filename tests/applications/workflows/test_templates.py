"""The gallery's templates: each is a definition in the stored format, valid with the
workspace's model (intent_rag once its knowledge bases are picked: until then validation
names them), and each runs on the scripted upstream."""

import json

import pytest

from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.templates import TEMPLATES, blank
from apps.applications.workflow.validation import problems
from tests.applications.workflows.conftest import finished, node_outputs, run, text
from tests.knowledge.conftest import create_kb
from tests.upstream import text as reply

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("template_id", [*TEMPLATES, "blank"])
def test_each_template_is_a_definition(template_id):
    build = blank if template_id == "blank" else TEMPLATES[template_id].definition
    parsed = WorkflowDefinition.model_validate(build("agent-chat"))
    assert parsed.start_node() is not None
    assert all(node.title for node in parsed.nodes)


@pytest.mark.parametrize("template_id", ["document_summariser", "plan_and_solve"])
def test_the_templates_are_valid_with_a_chat_model(acme, chat, template_id):
    assert problems(acme, TEMPLATES[template_id].definition("agent-chat")) == []
    assert problems(acme, blank("agent-chat")) == []


def test_without_a_model_validation_asks_for_one(acme, chat):
    found = problems(acme, TEMPLATES["plan_and_solve"].definition(""))
    assert {(p.node_id, p.setting) for p in found} >= {("plan", "data.model")}


def _with_kbs(definition: dict, *kb_ids: str) -> dict:
    for node in definition["nodes"]:
        if node["type"] == "knowledge_retrieval":
            node["data"]["knowledge_base_ids"] = list(kb_ids)
    return definition


def test_intent_rag_names_each_missing_knowledge_base_until_they_are_picked(
    acme, chat, acme_console
):
    definition = TEMPLATES["intent_rag"].definition("agent-chat")
    found = problems(acme, definition)
    assert {(p.node_id, p.setting) for p in found} == {
        ("product_docs", "data.knowledge_base_ids"),
        ("policy_docs", "data.knowledge_base_ids"),
    }
    kb = create_kb(acme_console, name="Docs")
    assert problems(acme, _with_kbs(definition, kb["id"])) == []


def test_intent_rag_runs_the_branch_the_classifier_picks(
    acme, chat, acme_console, workflow_app, upstream
):
    kb = create_kb(acme_console, name="Docs")
    app = workflow_app(_with_kbs(TEMPLATES["intent_rag"].definition("agent-chat"), kb["id"]))
    upstream.script("chat", reply('{"class_id": "policy"}'), reply("Refunds take 5 days."))
    events = run(app, "How long do refunds take?")
    outputs = node_outputs(events)
    assert outputs["classify"]["class_id"] == "policy"
    assert "product_docs" not in outputs and "policy_docs" in outputs
    assert text(events) == "Refunds take 5 days."


def test_document_summariser_runs_an_llm_per_section(acme, chat, workflow_app, upstream):
    app = workflow_app(TEMPLATES["document_summariser"].definition("agent-chat"))
    upstream.script(
        "chat",
        reply(json.dumps({"sections": ["Intro text", "Body text"]})),
        reply("A summary."),
        reply("A summary."),
        reply("The whole summary."),
    )
    events = run(app, "", inputs={"document": "Intro text\n\nBody text"})
    assert text(events) == "The whole summary."
    assert node_outputs(events)["each_section"]["results"] == ["A summary.", "A summary."]
    assert finished(events).finish_reason == "stop"


def test_plan_and_solve_runs_an_agent_per_step(acme, chat, workflow_app, upstream):
    app = workflow_app(TEMPLATES["plan_and_solve"].definition("agent-chat"))
    upstream.script(
        "chat",
        reply(json.dumps({"steps": ["look", "decide"]})),
        reply("Looked."),
        reply("Decided."),
        reply("Report."),
    )
    events = run(app, "Choose a laptop")
    assert node_outputs(events)["steps"]["results"] == ["Looked.", "Decided."]
    assert text(events) == "Report."
