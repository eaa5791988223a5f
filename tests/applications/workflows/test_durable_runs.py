"""Runs that outlive a call: a human-input node pauses the run in Postgres and the next
call in the session resumes it (after a restart too); and runs cut short: the caller going
away cancels the run, a node over its time limit fails it."""

import time

import pytest
from django.db import connections

from apps.applications.events import NodeStarted
from apps.applications.models import Run, RunSurface
from apps.applications.workflow import checkpoints, compiling
from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.engine import WorkflowNodeFailed, WorkflowNodeTimeout
from apps.applications.workflow.runner import is_paused, plan_workflow, run_workflow
from kernel.errors import InvalidParameter
from tests.applications.workflows.conftest import (
    chain,
    definition,
    finished,
    node,
    node_outputs,
    run,
    text,
)
from tests.upstream import stream

ASKING = definition(
    [
        node("start", "start"),
        node("human_1", "human_input", question="Ship {{ sys.query }}?"),
        node("end", "end", output="Answer: {{ human_1.answer }} (for {{ start.query }})"),
    ],
    chain("start", "human_1", "end"),
)


def pause(app) -> str:
    """Run ``app`` up to its question; the session to answer in."""
    events = run(app, "the parcel")
    assert text(events) == "Ship the parcel?"
    done = finished(events)
    assert done.waiting_for == {"node_id": "human_1", "question": "Ship the parcel?"}
    record = Run.objects.get(session_id=done.session_id)
    assert (record.status, record.answer) == ("waiting", "Ship the parcel?")
    assert is_paused(app, done.session_id)
    return done.session_id


@pytest.mark.django_db
def test_a_question_pauses_the_run_and_the_next_call_answers_it(workflow_app):
    app = workflow_app(ASKING)
    session_id = pause(app)
    events = run(app, "yes", session_id=session_id)
    assert text(events) == "Answer: yes (for the parcel)"
    assert node_outputs(events)["human_1"] == {"answer": "yes"}
    assert finished(events).waiting_for is None
    resumed = Run.objects.filter(session_id=session_id).order_by("started_at")
    assert [r.status for r in resumed] == ["waiting", "succeeded"]
    assert not is_paused(app, session_id), "a finished run's checkpoints are deleted"


@pytest.mark.django_db(transaction=True)
def test_a_paused_run_resumes_from_postgres_alone_after_a_restart(workflow_app):
    app = workflow_app(ASKING)
    session_id = pause(app)
    # What a new process starts without: compiled graphs, the saver's set-up, connections.
    compiling._COMPILED.clear()
    checkpoints._ready.clear()
    connections.close_all()
    events = run(app, "yes, ship it", session_id=session_id)
    assert text(events) == "Answer: yes, ship it (for the parcel)"
    assert Run.objects.filter(session_id=session_id, status="succeeded").count() == 1


@pytest.mark.django_db
def test_a_fresh_session_starts_a_new_run(workflow_app):
    app = workflow_app(ASKING)
    first = pause(app)
    events = run(app, "the letter")
    assert finished(events).waiting_for == {"node_id": "human_1", "question": "Ship the letter?"}
    assert finished(events).session_id != first
    assert is_paused(app, first), "the first run still waits for its own answer"


@pytest.mark.django_db
def test_an_empty_answer_is_refused_and_the_run_keeps_waiting(workflow_app):
    app = workflow_app(ASKING)
    session_id = pause(app)
    with pytest.raises(InvalidParameter, match="waiting for an answer") as refused:
        run(app, "   ", session_id=session_id)
    assert refused.value.status == 400
    assert is_paused(app, session_id)
    assert text(run(app, "no", session_id=session_id)) == "Answer: no (for the parcel)"


def slow_llm(**fields) -> dict:
    return definition(
        [
            node("start", "start"),
            {**node("llm_1", "llm", model="agent-chat"), **fields},
            node("end", "end", output="{{ llm_1.text }}"),
        ],
        chain("start", "llm_1", "end"),
    )


LONG_REPLY = [f"w{i} " for i in range(12)]


@pytest.mark.django_db
def test_closing_the_run_cancels_it_and_closes_the_model_stream(workflow_app, upstream):
    data = slow_llm()
    app = workflow_app(data)
    upstream.script("chat", stream(LONG_REPLY, delay=0.25))
    plan = plan_workflow(
        app=app,
        version=None,
        definition=WorkflowDefinition.model_validate(data),
        prompt="write a lot",
        inputs={},
        session_id=None,
        surface=RunSurface.PLAYGROUND,
    )
    events = run_workflow(plan)
    for event in events:
        if isinstance(event, NodeStarted) and event.node_id == "llm_1":
            break
    time.sleep(0.6)  # the LLM node is reading the reply
    events.close()
    record = Run.objects.get()
    assert record.status == "cancelled"
    time.sleep(len(LONG_REPLY) * 0.25)
    [sent] = upstream.requests_for("chat")
    assert sent.finished_at is None, "the upstream stream ran to its end after the run stopped"


@pytest.mark.django_db
def test_a_node_over_its_time_limit_fails_the_run_naming_it(workflow_app, upstream):
    upstream.script("chat", stream(LONG_REPLY, delay=0.25))
    app = workflow_app(slow_llm(timeout_seconds=0.5, title="Writer"))
    began = time.monotonic()
    with pytest.raises(WorkflowNodeTimeout, match=r"Node 'Writer' ran longer than its 0.5 s"):
        run(app, "write a lot")
    assert time.monotonic() - began < 2, "the node stopped at its limit, not at the reply's end"
    record = Run.objects.get()
    assert (record.status, record.error_code) == ("failed", "WorkflowNodeTimeout")
    [step] = [s for s in record.steps.all() if s.kind == "node" and s.node_id == "llm_1"]
    assert step.output["status"] == "failed" and "Writer" in step.error


@pytest.mark.django_db
def test_a_resumed_run_that_fails_leaves_no_state_for_the_session(workflow_app):
    failing = definition(
        [
            node("start", "start"),
            node("human_1", "human_input", question="Ship {{ sys.query }}?"),
            node("end", "end", output="{{ ghost.text }}"),
        ],
        chain("start", "human_1", "end"),
    )
    app = workflow_app(failing)
    session_id = pause(app)
    with pytest.raises(WorkflowNodeFailed, match=r"ghost\.text"):
        run(app, "yes", session_id=session_id)
    assert not is_paused(app, session_id)
    with checkpoints.saver() as saver:
        thread = {"configurable": {"thread_id": checkpoints.thread_id(app.pk, session_id)}}
        assert saver.get_tuple(thread) is None, "the failed run's checkpoints are deleted"
    # The next call in the session is a new run from the start, asking again.
    events = run(app, "the box", session_id=session_id)
    assert text(events) == "Ship the box?"
    assert node_outputs(events)["start"]["query"] == "the box"
