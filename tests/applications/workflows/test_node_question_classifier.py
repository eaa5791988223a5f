"""The question classifier: one model call picks a class, the run leaves by its handle; a
reply naming the class by name is taken; a reply naming none falls back to the last class,
and says so."""

import pytest
from pydantic import ValidationError

from apps.applications.events import NodeStarted
from apps.applications.models import Run
from apps.applications.workflow import validation
from apps.applications.workflow.nodes.question_classifier import (
    QuestionClassifier,
    QuestionClassifierSettings,
)
from tests.applications.workflows.conftest import (
    chain,
    definition,
    edge,
    node,
    node_outputs,
    run,
    text,
)
from tests.upstream import text as reply

pytestmark = pytest.mark.django_db

CLASSES = [
    {"id": "billing", "name": "Billing", "description": "invoices, refunds, payments"},
    {"id": "tech", "name": "Technical support"},
    {"id": "other", "name": "Anything else"},
]


def triage(**settings) -> dict:
    """start → classify → one answer per class → end."""
    return definition(
        [
            node("start", "start"),
            node(
                "classify",
                "question_classifier",
                model="agent-chat",
                classes=CLASSES,
                **settings,
            ),
            *[node(f"to_{c['id']}", "answer", text=c["id"]) for c in CLASSES],
            node("end", "end"),
        ],
        [
            *chain("start", "classify"),
            *[edge("classify", f"to_{c['id']}", c["id"]) for c in CLASSES],
            *[edge(f"to_{c['id']}", "end") for c in CLASSES],
        ],
    )


def test_the_run_leaves_by_the_class_the_model_names(workflow_app, upstream):
    app = workflow_app(triage(instructions="Orders count as {{ sys.query }}."))
    upstream.script("chat", reply('{"class_id": "billing"}'))
    events = run(app, "I was charged twice")
    assert text(events) == "billing"
    assert node_outputs(events)["classify"] == {
        "class_id": "billing",
        "class_name": "Billing",
        "fallback": False,
    }
    assert [e.node_id for e in events if isinstance(e, NodeStarted)] == [
        "start",
        "classify",
        "to_billing",
        "end",
    ]
    sent = upstream.requests_for("chat")[-1].body
    system, user = sent["messages"]
    assert user == {"role": "user", "content": "I was charged twice"}
    assert "- billing: Billing (invoices, refunds, payments)" in system["content"]
    assert "Orders count as I was charged twice." in system["content"]
    schema = sent["response_format"]["json_schema"]["schema"]
    assert schema["properties"]["class_id"]["enum"] == ["billing", "tech", "other"]


def test_the_model_call_is_traced_under_the_node(workflow_app, upstream):
    upstream.script("chat", reply('{"class_id": "tech"}', prompt_tokens=30, completion_tokens=6))
    run(workflow_app(triage()), "the app crashes")
    steps = [(s.kind, s.node_id) for s in Run.objects.get().steps.all()]
    assert ("model", "classify") in steps
    [step] = [
        s for s in Run.objects.get().steps.all() if s.kind == "node" and s.node_id == "classify"
    ]
    assert step.output["branch"] == "tech"
    assert (step.input_tokens, step.output_tokens) == (30, 6)


@pytest.mark.parametrize(
    "answer",
    ['{"class_id": "Technical support"}', "tech", '```json\n{"class_id": "TECH"}\n```'],
)
def test_a_reply_naming_the_class_another_way_is_taken(workflow_app, upstream, answer):
    upstream.script("chat", reply(answer))
    events = run(workflow_app(triage()), "it crashes")
    assert node_outputs(events)["classify"]["class_id"] == "tech"
    assert node_outputs(events)["classify"]["fallback"] is False


@pytest.mark.parametrize("answer", ['{"class_id": "weather"}', "I am not sure.", "[1, 2]"])
def test_a_reply_naming_no_class_falls_back_to_the_last(workflow_app, upstream, answer):
    upstream.script("chat", reply(answer))
    events = run(workflow_app(triage()), "hello")
    assert node_outputs(events)["classify"] == {
        "class_id": "other",
        "class_name": "Anything else",
        "fallback": True,
    }
    assert text(events) == "other"


def test_handles_are_the_class_ids_and_the_model_is_used():
    settings = QuestionClassifierSettings.model_validate(
        {"model": "agent-chat", "classes": CLASSES, "query": "{{ start.query }}"}
    )
    kind = QuestionClassifier()
    assert kind.handles(settings) == ["billing", "tech", "other"]
    assert kind.uses(settings).models == ["agent-chat"]
    assert settings.query == "start.query"


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"classes": CLASSES[:1]}, "at least 2"),
        ({"classes": [CLASSES[0], {**CLASSES[1], "id": "billing"}]}, "each class id once"),
        ({"classes": [CLASSES[0], {**CLASSES[1], "name": "billing"}]}, "each name once"),
        ({"classes": [CLASSES[0], {"id": "next", "name": "Next"}]}, "'next' cannot"),
        ({"classes": CLASSES, "model": "m" * 101}, "at most 100 characters"),
        ({"classes": CLASSES, "query": "the question"}, "pattern"),
    ],
)
def test_bad_settings_are_refused(data, complaint):
    with pytest.raises(ValidationError, match=complaint):
        QuestionClassifierSettings.model_validate({"model": "agent-chat", **data})


def test_validation_asks_for_a_model_and_knows_the_handles(acme, chat):
    data = triage()
    data["nodes"][1]["data"]["model"] = ""
    data["edges"].append(edge("classify", "end", "refunds"))
    found = {(p.node_id, p.message) for p in validation.problems(acme, data)}
    assert ("classify", "choose a chat model.") in found
    assert any(node_id == "classify" and "refunds" in message for node_id, message in found)
