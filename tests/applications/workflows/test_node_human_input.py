"""The human-input node: its question is a template over the run's variables; asking
pauses the node ("waiting" on the stream and in the trace), and the answer is its output.
Pausing, resuming and restarts are ``test_durable_runs``'."""

import pytest

from apps.applications.events import NodeFinished
from apps.applications.models import Run
from apps.applications.workflow.node_types import node_type
from apps.applications.workflow.nodes.base import Read
from tests.applications.workflows.conftest import chain, definition, finished, node, run, text
from tests.upstream import text as reply

pytestmark = pytest.mark.django_db

DRAFTING = definition(
    [
        node("start", "start"),
        node("llm_1", "llm", model="agent-chat", prompt="Draft a reply to: {{ sys.query }}"),
        node("human_1", "human_input", question="Send this reply? {{ llm_1.text }}"),
        node("end", "end", output="{{ human_1.answer }}: {{ llm_1.text }}"),
    ],
    chain("start", "llm_1", "human_1", "end"),
)


def test_the_question_reads_earlier_outputs_and_the_node_waits(workflow_app, upstream):
    upstream.script("chat", reply("Dear customer, sorry."))
    events = run(workflow_app(DRAFTING), "a complaint")
    assert text(events) == "Send this reply? Dear customer, sorry."
    [asked] = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "human_1"]
    assert (asked.status, asked.outputs) == ("waiting", {})
    assert not any(isinstance(e, NodeFinished) and e.node_id == "end" for e in events)
    step = Run.objects.get().steps.get(kind="node", node_id="human_1")
    assert step.output["status"] == "waiting"
    assert step.input == {"llm_1.text": "Dear customer, sorry."}


def test_the_answer_is_the_output_and_earlier_nodes_do_not_run_again(workflow_app, upstream):
    upstream.script("chat", reply("Dear customer, sorry."))
    app = workflow_app(DRAFTING)
    session_id = finished(run(app, "a complaint")).session_id
    events = run(app, "approved", session_id=session_id)
    assert text(events) == "approved: Dear customer, sorry."
    [answered] = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "human_1"]
    assert (answered.status, answered.outputs) == ("succeeded", {"answer": "approved"})
    assert len(upstream.requests_for("chat")) == 1, "the LLM's reply came from the checkpoint"


def test_the_node_declares_its_reads_and_output():
    kind = node_type("human_input")
    settings = kind.Settings.model_validate({"question": "OK with {{ llm_1.text }}?"})
    assert kind.reads(settings) == [Read("llm_1.text", "any", "question")]
    assert kind.outputs(settings) == {"answer": "string"}
    with pytest.raises(ValueError, match="question"):
        kind.Settings.model_validate({"question": ""})
