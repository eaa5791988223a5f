"""The answer node streams its rendered text to the caller mid-flow; the end node's output
template is the last part of the answer. Both render ``{{ node_id.output }}`` templates."""

import pytest
from pydantic import ValidationError

from apps.applications.events import NodeStarted, TextDelta
from apps.applications.workflow.nodes.answer import Answer, AnswerSettings
from apps.applications.workflow.nodes.end import End, EndSettings
from tests.applications.workflows.conftest import chain, definition, finished, node, run

pytestmark = pytest.mark.django_db


def test_an_answer_streams_before_later_nodes_run(workflow_app):
    app = workflow_app(
        definition(
            [
                node("start", "start"),
                node("first", "answer", text="Looking up {{ sys.query }}... "),
                node("later", "answer", text="found."),
                node("end", "end", output=" ({{ later.text }})"),
            ],
            chain("start", "first", "later", "end"),
        )
    )
    events = run(app, "tea")
    order = [
        e.text if isinstance(e, TextDelta) else e.node_id
        for e in events
        if isinstance(e, TextDelta | NodeStarted)
    ]
    assert order == [
        "start",
        "first",
        "Looking up tea... ",
        "later",
        "found.",
        "end",
        " (found.)",
    ]
    assert finished(events).text == "Looking up tea... found. (found.)"


def test_values_that_are_not_text_render_as_json(workflow_app):
    app = workflow_app(
        definition(
            [
                node("start", "start", variables=[{"name": "items", "type": "array"}]),
                node("end", "end", output="{{ start.items }}"),
            ],
            chain("start", "end"),
        )
    )
    assert finished(run(app, "x", {"items": ["茶", 2]})).text == '["茶", 2]'


def test_an_empty_end_adds_nothing(workflow_app):
    app = workflow_app(
        definition([node("start", "start"), node("end", "end")], [*chain("start", "end")])
    )
    assert finished(run(app)).text == ""


def test_reads_outputs_and_handles():
    answer = AnswerSettings.model_validate({"text": "{{ a.b }} and {{ c.d }}"})
    assert [r.reference for r in Answer().reads(answer)] == ["a.b", "c.d"]
    assert Answer().outputs(answer) == {"text": "string"}
    end = EndSettings.model_validate({"output": "{{ a.b }}"})
    assert End().handles(end) == []
    assert End().outputs(end) == {"output": "string"}


def test_an_answer_needs_text():
    with pytest.raises(ValidationError):
        AnswerSettings.model_validate({"text": ""})
