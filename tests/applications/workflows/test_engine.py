"""The engine: a definition compiled to a graph and run as events; branching, node
failures, the step limit, the trace."""

import pytest

from apps.applications.events import NodeFinished, NodeStarted
from apps.applications.models import Run
from apps.applications.workflow.engine import WorkflowNodeFailed, WorkflowStepLimit
from apps.usage.models import Quota
from kernel.errors import ApiError
from tests.applications.workflows.conftest import (
    chain,
    definition,
    edge,
    finished,
    node,
    node_outputs,
    run,
    text,
)
from tests.upstream import text as reply

pytestmark = pytest.mark.django_db


def routed(prompt_word: str = "refund") -> dict:
    """start → llm → condition (contains word) → answer_yes | answer_no → end."""
    return definition(
        [
            node("start", "start"),
            node("llm_1", "llm", model="agent-chat", prompt="Classify: {{ sys.query }}"),
            node(
                "if_1",
                "condition",
                cases=[
                    {
                        "id": "yes",
                        "conditions": [
                            {"variable": "llm_1.text", "operator": "contains", "value": prompt_word}
                        ],
                    }
                ],
            ),
            node("answer_yes", "answer", text="Refunds: {{ llm_1.text }}. "),
            node("answer_no", "answer", text="Other. "),
            node("end", "end", output="Done."),
        ],
        [
            *chain("start", "llm_1", "if_1"),
            edge("if_1", "answer_yes", "yes"),
            edge("if_1", "answer_no", "else"),
            edge("answer_yes", "end"),
            edge("answer_no", "end"),
        ],
    )


def test_a_run_follows_the_branch_the_condition_takes(workflow_app, upstream):
    app = workflow_app(routed())
    upstream.script("chat", reply("refund"))
    events = run(app, "I want my money back")
    assert text(events) == "Refunds: refund. Done."
    outputs = node_outputs(events)
    assert "answer_no" not in outputs
    assert outputs["if_1"] == {"branch": "yes"}
    assert upstream.requests_for("chat")[-1].body["messages"][-1]["content"] == (
        "Classify: I want my money back"
    )
    started = [e.node_id for e in events if isinstance(e, NodeStarted)]
    assert started == ["start", "llm_1", "if_1", "answer_yes", "end"]


def test_the_else_branch(workflow_app, upstream):
    upstream.script("chat", reply("shipping"))
    events = run(workflow_app(routed()), "where is my parcel")
    assert text(events) == "Other. Done."


def test_the_run_is_recorded_with_one_step_per_node_and_its_model_call(workflow_app, upstream):
    upstream.script("chat", reply("refund", prompt_tokens=7, completion_tokens=2))
    events = run(workflow_app(routed()), "money")
    record = Run.objects.get()
    assert record.status == "succeeded"
    assert record.answer == "Refunds: refund. Done."
    assert (record.input_tokens, record.output_tokens) == (7, 2)
    kinds = [(s.kind, s.node_id) for s in record.steps.all()]
    assert ("model", "llm_1") in kinds
    assert [n for k, n in kinds if k == "node"] == ["start", "llm_1", "if_1", "answer_yes", "end"]
    [llm] = [e for e in events if isinstance(e, NodeFinished) and e.node_id == "llm_1"]
    assert (llm.input_tokens, llm.output_tokens) == (7, 2)
    assert finished(events).usage == [
        {"model_id": "agent-chat", "input_tokens": 7, "output_tokens": 2}
    ]


def test_a_failing_node_fails_the_run_with_the_node_named(workflow_app):
    app = workflow_app(
        definition(
            [
                node("start", "start"),
                node("a", "answer", text="{{ ghost.text }}"),
                node("end", "end"),
            ],
            chain("start", "a", "end"),
        )
    )
    with pytest.raises(WorkflowNodeFailed, match=r"Node 'a' \(answer\): ghost.text"):
        run(app)
    record = Run.objects.get()
    assert (record.status, record.error_code) == ("failed", "WorkflowNodeFailed")
    [failed] = [s for s in record.steps.all() if s.node_id == "a"]
    assert failed.output["status"] == "failed" and "ghost.text" in failed.error


def test_max_steps_stops_a_run(workflow_app):
    app = workflow_app(
        definition(
            [node("start", "start"), node("a", "answer", text="x"), node("end", "end")],
            chain("start", "a", "end"),
            max_steps=2,
        )
    )
    with pytest.raises(WorkflowStepLimit):
        run(app)
    assert Run.objects.get().status == "failed"


def test_the_workspaces_quota_holds_for_every_model_call_of_a_run(workflow_app, acme, upstream):
    Quota.objects.create(workspace=acme, requests_per_minute=1)
    app = workflow_app(
        definition(
            [
                node("start", "start"),
                node("first", "llm", model="agent-chat"),
                node("second", "llm", model="agent-chat", prompt="{{ first.text }}"),
                node("end", "end", output="{{ second.text }}"),
            ],
            chain("start", "first", "second", "end"),
        )
    )
    with pytest.raises(ApiError) as refused:
        run(app, "hello")
    assert (refused.value.status, refused.value.code) == (429, "Throttling.RateQuota")
    assert len(upstream.requests_for("chat")) == 1
    record = Run.objects.get()
    assert (record.status, record.error_code) == ("failed", "Throttling.RateQuota")
    assert record.steps.get(node_id="second", kind="node").output["status"] == "failed"
