"""The LLM node: one model call through the gateway with a system prompt and a prompt
rendered over the variables; with a JSON schema, the reply is asked for as JSON
(``response_format``), parsed and checked into ``structured``."""

import pytest
from pydantic import ValidationError

from apps.applications.workflow.engine import WorkflowNodeFailed
from apps.applications.workflow.nodes.llm import Llm, LlmSettings, parse_json_reply
from apps.gateway.routing import ModelNotFound
from tests.applications.workflows.conftest import chain, definition, node, node_outputs, run
from tests.upstream import text as reply

pytestmark = pytest.mark.django_db

SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
    "required": ["city", "days"],
}


def with_llm(**settings) -> dict:
    return definition(
        [
            node("start", "start", variables=[{"name": "tone", "type": "string"}]),
            node("llm_1", "llm", **{"model": "agent-chat", **settings}),
            node("end", "end", output="{{ llm_1.text }}"),
        ],
        chain("start", "llm_1", "end"),
    )


def test_the_prompts_are_rendered_and_sent_through_the_gateway(workflow_app, upstream):
    upstream.script("chat", reply("Bonjour", prompt_tokens=4, completion_tokens=1))
    app = workflow_app(
        with_llm(
            system_prompt="Answer in a {{ start.tone }} tone.",
            prompt="Greet {{ sys.query }}",
            temperature=0.2,
            max_tokens=50,
        )
    )
    events = run(app, "Ada", {"tone": "warm"})
    sent = upstream.requests_for("chat")[-1].body
    assert sent["model"] == "up-chat"
    assert sent["messages"] == [
        {"role": "system", "content": "Answer in a warm tone."},
        {"role": "user", "content": "Greet Ada"},
    ]
    assert (sent["temperature"], sent["max_tokens"]) == (0.2, 50)
    assert "response_format" not in sent
    assert node_outputs(events)["llm_1"] == {"text": "Bonjour"}


def test_an_empty_system_prompt_is_not_sent(workflow_app, upstream):
    run(workflow_app(with_llm()), "hi")
    assert [m["role"] for m in upstream.requests_for("chat")[-1].body["messages"]] == ["user"]


def test_structured_output_is_asked_for_parsed_and_checked(workflow_app, upstream):
    upstream.script("chat", reply('```json\n{"city": "Oslo", "days": 3}\n```'))
    events = run(workflow_app(with_llm(json_schema=SCHEMA)), "trip")
    sent = upstream.requests_for("chat")[-1].body
    assert sent["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "output", "schema": SCHEMA},
    }
    assert node_outputs(events)["llm_1"]["structured"] == {"city": "Oslo", "days": 3}


@pytest.mark.parametrize(
    ("answer", "complaint"),
    [
        ("not json", "the model's reply is not JSON"),
        ('{"city": "Oslo"}', "does not fit the schema: 'days' is a required property"),
    ],
)
def test_a_reply_that_does_not_fit_fails_the_node(workflow_app, upstream, answer, complaint):
    upstream.script("chat", reply(answer))
    with pytest.raises(WorkflowNodeFailed, match=complaint):
        run(workflow_app(with_llm(json_schema=SCHEMA)), "trip")


def test_an_unknown_model_fails_the_run_as_the_gateway_says(workflow_app):
    with pytest.raises(ModelNotFound, match="'ghost' does not exist or you do not have access"):
        run(workflow_app(with_llm(model="ghost")), "x")


def test_outputs_reads_and_uses():
    settings = LlmSettings.model_validate(
        {"model": "m", "system_prompt": "{{ a.b }}", "prompt": "{{ c.d }}", "json_schema": SCHEMA}
    )
    assert Llm().outputs(settings) == {"text": "string", "structured": "object"}
    assert [r.reference for r in Llm().reads(settings)] == ["a.b", "c.d"]
    assert Llm().uses(settings).models == ["m"]


@pytest.mark.parametrize(
    "data",
    [
        {"json_schema": {"type": "nonsense"}},
        {"temperature": 3},
        {"prompt": ""},
        {"unknown": 1},
    ],
)
def test_bad_settings_are_refused(data):
    with pytest.raises(ValidationError):
        LlmSettings.model_validate(data)


def test_parse_json_reply_allows_a_fence():
    assert parse_json_reply('```\n{"a": 1}\n```') == {"a": 1}
    assert parse_json_reply(' {"a": 1} ') == {"a": 1}
