"""The parameter extractor: one model call fills in a JSON schema's properties, each an
output of its type; a reply that does not fit is sent back once with what was wrong, and a
second miss fails the node with the schema's complaint."""

import pytest
from pydantic import ValidationError

from apps.applications.models import Run
from apps.applications.workflow import validation
from apps.applications.workflow.engine import WorkflowNodeFailed
from apps.applications.workflow.nodes.parameter_extractor import (
    ParameterExtractor,
    ParameterExtractorSettings,
)
from tests.applications.workflows.conftest import chain, definition, node, node_outputs, run, text
from tests.upstream import text as reply

pytestmark = pytest.mark.django_db

TRIP = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "Where to"},
        "nights": {"type": "integer", "minimum": 1},
        "budget": {"type": "number"},
        "business": {"type": "boolean"},
        "travellers": {"type": "array", "items": {"type": "string"}},
        "notes": {},
    },
    "required": ["city", "nights"],
}


def extraction(**settings) -> dict:
    return definition(
        [
            node("start", "start"),
            node("trip", "parameter_extractor", model="agent-chat", parameters=TRIP, **settings),
            node("end", "end", output="{{ trip.city }} for {{ trip.nights }} nights"),
        ],
        chain("start", "trip", "end"),
    )


def test_the_properties_become_typed_outputs(workflow_app, upstream):
    upstream.script(
        "chat",
        reply(
            '{"city": "Hangzhou", "nights": 3, "business": true, "travellers": ["Li", "Ana"],'
            ' "unasked": "dropped"}'
        ),
    )
    events = run(workflow_app(extraction()), "Li and Ana go to Hangzhou for three nights")
    assert node_outputs(events)["trip"] == {
        "city": "Hangzhou",
        "nights": 3,
        "budget": None,
        "business": True,
        "travellers": ["Li", "Ana"],
        "notes": None,
    }
    assert text(events) == "Hangzhou for 3 nights"
    sent = upstream.requests_for("chat")[-1].body
    assert sent["response_format"]["json_schema"]["schema"] == TRIP
    assert sent["messages"][-1]["content"] == "Li and Ana go to Hangzhou for three nights"


def test_outputs_are_typed_from_the_schema():
    settings = ParameterExtractorSettings.model_validate(
        {"model": "agent-chat", "parameters": TRIP}
    )
    assert ParameterExtractor().outputs(settings) == {
        "city": "string",
        "nights": "number",
        "budget": "number",
        "business": "boolean",
        "travellers": "array",
        "notes": "any",
    }


def test_a_reply_that_does_not_fit_is_sent_back_once(workflow_app, upstream):
    upstream.script(
        "chat",
        reply('{"city": "Hangzhou", "nights": "three"}'),
        reply('{"city": "Hangzhou", "nights": 3}'),
    )
    events = run(workflow_app(extraction(instructions="Nights are whole numbers.")), "3 nights")
    assert node_outputs(events)["trip"]["nights"] == 3
    first, second = upstream.requests_for("chat")
    assert "Nights are whole numbers." in first.body["messages"][0]["content"]
    retry = second.body["messages"]
    assert retry[-2] == {"role": "assistant", "content": '{"city": "Hangzhou", "nights": "three"}'}
    assert "nights: 'three' is not of type 'integer'" in retry[-1]["content"]
    model_steps = [s for s in Run.objects.get().steps.all() if s.kind == "model"]
    assert [s.node_id for s in model_steps] == ["trip", "trip"]


def test_two_misses_fail_the_node_with_the_schemas_complaint(workflow_app, upstream):
    upstream.script("chat", reply("Hangzhou, I think"), reply('{"nights": 3}'))
    with pytest.raises(
        WorkflowNodeFailed,
        match=r"Node 'trip' \(parameter_extractor\): .*'city' is a required property",
    ):
        run(workflow_app(extraction()), "somewhere")
    assert len(upstream.requests_for("chat")) == 2
    assert "not JSON" in upstream.requests_for("chat")[1].body["messages"][-1]["content"]


@pytest.mark.parametrize(
    ("parameters", "complaint"),
    [
        ({"type": "array", "items": {}}, "type.: .object. with at least one property"),
        ({"type": "object", "properties": {}}, "at least one property"),
        ({"type": "object", "properties": {"a": {"type": "date"}}}, "not a JSON schema"),
        ({"type": "object", "properties": {"a": {"type": ["string", "null"]}}}, "type must be"),
        ({"type": "object", "properties": {"two words": {"type": "string"}}}, "cannot name"),
    ],
)
def test_a_schema_that_is_not_an_object_with_properties_is_refused(parameters, complaint):
    with pytest.raises(ValidationError, match=complaint):
        ParameterExtractorSettings.model_validate({"model": "agent-chat", "parameters": parameters})


def test_validation_checks_reads_against_the_typed_outputs(acme, chat):
    data = extraction()
    data["nodes"].insert(
        2, node("pick", "variable_aggregator", variables=["trip.nights"], type="string")
    )
    data["edges"] = chain("start", "trip", "pick", "end")
    [found] = validation.problems(acme, data)
    assert (found.node_id, found.message) == (
        "pick",
        "trip.nights is a number; this setting needs a string.",
    )
