"""The variable aggregator: after a branch, the one variable that has a value, whichever
branch ran; its declared type is checked on the value; no value at all fails the node."""

import pytest
from pydantic import ValidationError

from apps.applications.workflow.engine import WorkflowNodeFailed
from apps.applications.workflow.nodes.base import Read
from apps.applications.workflow.nodes.variable_aggregator import (
    VariableAggregator,
    VariableAggregatorSettings,
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

pytestmark = pytest.mark.django_db


def branches(variables: list[str], type_: str = "any") -> dict:
    """start → condition (query contains "a") → answer a | answer b → aggregator → end."""
    return definition(
        [
            node("start", "start", variables=[{"name": "count", "type": "number", "default": 3}]),
            node(
                "if_a",
                "condition",
                cases=[
                    {
                        "id": "a",
                        "conditions": [
                            {"variable": "sys.query", "operator": "contains", "value": "a"}
                        ],
                    }
                ],
            ),
            node("answer_a", "answer", text="A"),
            node("answer_b", "answer", text="B"),
            node("pick", "variable_aggregator", variables=variables, type=type_),
            node("end", "end", output=" picked {{ pick.output }}"),
        ],
        [
            *chain("start", "if_a"),
            edge("if_a", "answer_a", "a"),
            edge("if_a", "answer_b", "else"),
            edge("answer_a", "pick"),
            edge("answer_b", "pick"),
            *chain("pick", "end"),
        ],
    )


@pytest.mark.parametrize(("prompt", "picked"), [("apple", "A"), ("plum", "B")])
def test_the_branch_that_ran_gives_the_output(workflow_app, prompt, picked):
    app = workflow_app(branches(["answer_a.text", "answer_b.text"], "string"))
    events = run(app, prompt)
    assert node_outputs(events)["pick"] == {"output": picked}
    assert text(events) == f"{picked} picked {picked}"


def test_the_first_listed_with_a_value_wins(workflow_app):
    app = workflow_app(branches(["answer_b.text", "start.count", "answer_a.text"]))
    events = run(app, "apple")
    assert node_outputs(events)["pick"] == {"output": 3}


def test_a_value_of_another_type_fails_the_node(workflow_app):
    app = workflow_app(branches(["answer_b.text", "answer_a.text"], "number"))
    with pytest.raises(WorkflowNodeFailed, match=r"answer_a\.text is not a number"):
        run(app, "apple")


def test_no_value_at_all_fails_the_node(workflow_app):
    app = workflow_app(branches(["answer_b.text"]))
    with pytest.raises(
        WorkflowNodeFailed, match=r"Node 'pick' \(variable_aggregator\): none of answer_b\.text"
    ):
        run(app, "apple")


def test_reads_declare_each_variable_with_the_type_and_the_output_has_it():
    settings = VariableAggregatorSettings.model_validate(
        {"variables": ["a.text", "{{ b.text }}"], "type": "string"}
    )
    kind = VariableAggregator()
    assert kind.reads(settings) == [
        Read("a.text", "string", "variables"),
        Read("b.text", "string", "variables"),
    ]
    assert kind.outputs(settings) == {"output": "string"}


@pytest.mark.parametrize(
    "data",
    [
        {"variables": []},
        {"variables": ["a.text", "a.text"]},
        {"variables": ["not-a-variable"]},
        {"variables": ["a.text"], "type": "date"},
        {"variables": ["a.text"], "extra": 1},
    ],
)
def test_bad_settings_are_refused(data):
    with pytest.raises(ValidationError):
        VariableAggregatorSettings.model_validate(data)
