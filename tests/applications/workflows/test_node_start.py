"""The start node: the caller's prompt as ``query`` and its typed input variables, from
``biz_params`` or their defaults; a required one missing or of the wrong type is a 400
before anything runs."""

import pytest
from pydantic import ValidationError

from apps.applications.workflow.nodes.start import Start, StartSettings
from kernel.errors import InvalidParameter
from tests.applications.workflows.conftest import chain, definition, node, node_outputs, run

pytestmark = pytest.mark.django_db

VARIABLES = [
    {"name": "city", "type": "string", "required": True},
    {"name": "days", "type": "number", "default": 3},
    {"name": "tags", "type": "array"},
    {"name": "note", "type": "string"},
]


def flow() -> dict:
    return definition(
        [
            node("start", "start", variables=VARIABLES),
            node("end", "end", output="{{ start.city }}"),
        ],
        chain("start", "end"),
    )


def test_outputs_are_the_prompt_and_the_inputs_with_defaults(workflow_app):
    events = run(workflow_app(flow()), "plan a trip", {"city": "Oslo", "tags": ["a"]})
    assert node_outputs(events)["start"] == {
        "query": "plan a trip",
        "city": "Oslo",
        "days": 3,
        "tags": ["a"],
        "note": "",
    }


@pytest.mark.parametrize(
    ("inputs", "complaint"),
    [
        ({}, "input.biz_params.city: the workflow needs this variable"),
        ({"city": 7}, "input.biz_params.city: expected a string"),
        ({"city": "Oslo", "days": True}, "input.biz_params.days: expected a number"),
        ({"city": "Oslo", "tags": "a"}, "input.biz_params.tags: expected a array"),
    ],
)
def test_a_missing_or_mistyped_input_is_refused_before_the_run(workflow_app, inputs, complaint):
    with pytest.raises(InvalidParameter, match=complaint):
        run(workflow_app(flow()), "x", inputs)


def test_outputs_declare_the_types():
    settings = StartSettings.model_validate({"variables": VARIABLES})
    assert Start().outputs(settings) == {
        "query": "string",
        "city": "string",
        "days": "number",
        "tags": "array",
        "note": "string",
    }


@pytest.mark.parametrize(
    "variables",
    [
        [{"name": "a"}, {"name": "a"}],
        [{"name": "query"}],
        [{"name": "1bad"}],
        [{"name": "a", "type": "date"}],
    ],
)
def test_bad_settings_are_refused(variables):
    with pytest.raises(ValidationError):
        StartSettings.model_validate({"variables": variables})
