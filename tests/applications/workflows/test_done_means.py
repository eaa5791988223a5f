"""Issue #18's "done means", over the wire: a workflow with a question classifier, two
knowledge-retrieval branches, a tool, a human-input pause and an answer node, published
and called with the official `dashscope` SDK, paused and resumed through session_id; the
run's trace read back from the console API, node by node."""

import dashscope
import pytest
from dashscope import Application

from tests.applications.conftest import publish
from tests.applications.workflows.conftest import chain, definition, edge, node
from tests.knowledge.conftest import create_kb, upload
from tests.upstream import text as reply

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

TRAVEL = b"# Travel\n\nHotels are reimbursed up to 150 euros a night in Europe.\n"
BILLING = b"# Billing\n\nInvoices are paid within thirty days of receipt.\n"


def help_desk(billing_kb: str, travel_kb: str) -> dict:
    return definition(
        [
            node("start", "start"),
            node(
                "classify",
                "question_classifier",
                model="agent-chat",
                classes=[{"id": "billing", "name": "Billing"}, {"id": "travel", "name": "Travel"}],
            ),
            node("kr_billing", "knowledge_retrieval", knowledge_base_ids=[billing_kb]),
            node("kr_travel", "knowledge_retrieval", knowledge_base_ids=[travel_kb]),
            node(
                "merge",
                "variable_aggregator",
                variables=["kr_billing.text", "kr_travel.text"],
                type="string",
            ),
            node(
                "calc",
                "tool",
                tool={"type": "plugin", "id": "calculator"},
                arguments={"expression": "150 * 3"},
            ),
            node("approve", "human_input", question="Three nights cost {{ calc.result }}. Send?"),
            node("reply", "answer", text="{{ approve.answer }}: {{ merge.output }}"),
            node("end", "end"),
        ],
        [
            edge("start", "classify"),
            edge("classify", "kr_billing", "billing"),
            edge("classify", "kr_travel", "travel"),
            edge("kr_billing", "merge"),
            edge("kr_travel", "merge"),
            *chain("merge", "calc", "approve", "reply", "end"),
        ],
    )


def test_a_routed_paused_workflow_over_the_dashscope_sdk(
    platform_url, monkeypatch, acme_console, acme_key, upstream
):
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")
    billing = create_kb(acme_console, name="Billing")
    travel = create_kb(acme_console, name="Travel")
    upload(acme_console, billing["id"], {"billing.md": BILLING})
    upload(acme_console, travel["id"], {"travel.md": TRAVEL})
    created = acme_console.post(
        "/apps",
        {"name": "Help desk", "kind": "workflow", "draft": help_desk(billing["id"], travel["id"])},
    )
    assert created.status_code == 201, created.content
    app_id = created.json()["id"]
    publish(acme_console, app_id)

    upstream.script("chat", reply('{"class_id": "travel"}'))
    asked = Application.call(app_id=app_id, api_key=acme_key, prompt="What is the hotel cap?")
    assert asked.status_code == 200, asked
    assert asked.output.text == "Three nights cost 450. Send?"

    answered = Application.call(
        app_id=app_id, api_key=acme_key, prompt="Yes", session_id=asked.output.session_id
    )
    assert answered.status_code == 200, answered
    assert answered.output.text.startswith("Yes: [1] ")
    assert "150 euros a night" in answered.output.text
    assert answered.output.session_id == asked.output.session_id

    runs = acme_console.get(f"/apps/{app_id}/runs").json()["items"]
    assert [r["status"] for r in runs] == ["succeeded", "waiting"]
    first = acme_console.get(f"/apps/{app_id}/runs/{runs[1]['id']}").json()
    ran = [s["node_id"] for s in first["steps"] if s["kind"] == "node"]
    assert ran == ["start", "classify", "kr_travel", "merge", "calc", "approve"]
    assert first["steps"][-1]["output"]["status"] == "waiting"
    resumed = acme_console.get(f"/apps/{app_id}/runs/{runs[0]['id']}").json()
    steps = [(s["kind"], s["node_id"]) for s in resumed["steps"]]
    assert ("node", "reply") in steps and ("node", "end") in steps
    assert not any(node_id == "kr_billing" for _, node_id in steps)
