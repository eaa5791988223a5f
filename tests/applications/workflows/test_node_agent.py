"""The agent node: an agent's whole loop as one node of a workflow, written inline or a
published agent app; its answer is the node's output (for answer and end nodes to show),
not streamed text, and its work is traced under the node."""

import pytest
from pydantic import ValidationError

from apps.applications import drafts, services
from apps.applications.events import Thought
from apps.applications.models import Run
from apps.applications.workflow.engine import WorkflowNodeFailed
from apps.applications.workflow.node_types import node_type
from apps.applications.workflow.nodes.agent import AgentSettings
from tests.applications.workflows.conftest import (
    chain,
    definition,
    finished,
    node,
    node_outputs,
    run,
    text,
)
from tests.upstream import text as reply
from tests.upstream import tool_call

pytestmark = pytest.mark.django_db

CALCULATOR = {"type": "plugin", "id": "calculator"}


def with_agent(**settings) -> dict:
    """start → agent_1 → end ("Report: <the agent's answer>")."""
    return definition(
        [
            node("start", "start"),
            node("agent_1", "agent", **settings),
            node("end", "end", output="Report: {{ agent_1.text }}"),
        ],
        chain("start", "agent_1", "end"),
    )


def inline(**config) -> dict:
    return {"model": "agent-chat", "system_prompt": "You research.", **config}


def test_an_inline_agent_answers_into_its_output_not_the_stream(workflow_app, upstream):
    upstream.script("chat", reply("It is 42.", prompt_tokens=9, completion_tokens=3))
    app = workflow_app(with_agent(agent=inline(), prompt="Research {{ sys.query }}"))
    events = run(app, "the answer")
    # The only text the caller reads is the end node's: the agent's did not stream.
    assert text(events) == "Report: It is 42."
    assert node_outputs(events)["agent_1"] == {"text": "It is 42."}
    sent = upstream.requests_for("chat")[-1].body["messages"]
    assert sent == [
        {"role": "system", "content": "You research."},
        {"role": "user", "content": "Research the answer"},
    ]
    record = Run.objects.get()
    assert [(s.kind, s.node_id) for s in record.steps.all()] == [
        ("node", "start"),
        ("node", "agent_1"),
        ("model", "agent_1"),
        ("node", "end"),
    ]
    agent_step = record.steps.get(kind="node", node_id="agent_1")
    assert (agent_step.input_tokens, agent_step.output_tokens) == (9, 3)
    assert finished(events).usage == [
        {"model_id": "agent-chat", "input_tokens": 9, "output_tokens": 3}
    ]


def test_an_inline_agent_calls_its_tools_and_shows_them_as_thoughts(workflow_app, upstream):
    upstream.script(
        "chat", tool_call("calculator", {"expression": "6 * 7"}, call_id="c1"), reply("42")
    )
    app = workflow_app(with_agent(agent=inline(tools=[CALCULATOR])))
    events = run(app, "six times seven?")
    assert text(events) == "Report: 42"
    [thought] = [e.data for e in events if isinstance(e, Thought)]
    assert (thought["action"], thought["observation"]) == ("calculator", "42")
    assert finished(events).thoughts == [thought]
    record = Run.objects.get()
    [tool] = record.steps.filter(kind="tool")
    assert (tool.name, tool.node_id, tool.output["content"]) == ("calculator", "agent_1", "42")


def test_a_published_agent_app_runs_its_latest_version(acme, workflow_app, upstream):
    helper = drafts.create_app(
        acme, name="Helper", draft={"model": "agent-chat", "system_prompt": "Version one."}, by=None
    )
    drafts.publish(helper, by=None)
    services.update_draft(helper, {"model": "agent-chat", "system_prompt": "Version two."})
    drafts.publish(helper, by=None)
    services.update_draft(helper, {"model": "agent-chat", "system_prompt": "Unpublished."})
    upstream.script("chat", reply("Done."))
    events = run(workflow_app(with_agent(app_id=str(helper.pk))), "go")
    assert text(events) == "Report: Done."
    system = upstream.requests_for("chat")[-1].body["messages"][0]
    assert system == {"role": "system", "content": "Version two."}


def test_an_unpublished_or_unknown_app_fails_the_node(acme, workflow_app, globex):
    draft_only = drafts.create_app(acme, name="Draft only", draft={}, by=None)
    with pytest.raises(WorkflowNodeFailed, match="'Draft only' is not published"):
        run(workflow_app(with_agent(app_id=str(draft_only.pk))))
    elsewhere = drafts.create_app(globex, name="Theirs", draft={}, by=None)
    drafts.publish(elsewhere, by=None)
    with pytest.raises(WorkflowNodeFailed, match=r"there is no agent app .* in this workspace"):
        run(workflow_app(with_agent(app_id=str(elsewhere.pk))))


def test_an_empty_prompt_fails_the_node(workflow_app, upstream):
    app = workflow_app(with_agent(agent=inline(), prompt="{{ start.query }}"))
    with pytest.raises(WorkflowNodeFailed, match=r"Node 'agent_1' \(agent\): the prompt is empty"):
        run(app, " ")
    assert upstream.requests_for("chat") == []


def test_the_settings_name_exactly_one_agent():
    with pytest.raises(ValidationError, match="either app_id"):
        AgentSettings.model_validate({})
    with pytest.raises(ValidationError, match="either app_id"):
        AgentSettings.model_validate(
            {"app_id": "6f1c1c52-4d0e-4c3a-9c56-1b2c3d4e5f60", "agent": inline()}
        )


def test_uses_names_what_the_agent_needs():
    kind = node_type("agent")
    kb = "0b4c6f38-5a55-4a43-9d0b-2d7e4c1f7a10"
    app = "6f1c1c52-4d0e-4c3a-9c56-1b2c3d4e5f60"
    settings = AgentSettings.model_validate(
        {
            "agent": inline(
                tools=[CALCULATOR, {"type": "app", "id": app}],
                knowledge={"knowledge_base_ids": [kb]},
            )
        }
    )
    uses = kind.uses(settings)
    assert uses.models == ["agent-chat"]
    assert uses.knowledge_base_ids == [kb]
    assert uses.tools == [CALCULATOR]
    assert uses.app_ids == [app]
    assert kind.uses(AgentSettings.model_validate({"app_id": app})).app_ids == [app]
