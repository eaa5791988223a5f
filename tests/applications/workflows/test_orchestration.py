"""Agent orchestration: published apps (agents and workflows) offered to an agent as tools.
Each call is a sub-run recorded under the calling run; chains are bounded by loop
detection and a depth limit, both answered as the tool's error, never the caller's."""

import time

import pytest

from apps.applications import delegation, drafts, selectors, services
from apps.applications.app_tools import tool_name
from apps.applications.config import AppConfigSchema
from apps.applications.events import NodeStarted
from apps.applications.models import AgentApp, AppKind, Run, RunSurface
from apps.applications.planning import Call, plan_run
from apps.applications.runtime import run_app, run_to_end
from apps.applications.workflow.definition import WorkflowDefinition
from apps.applications.workflow.engine import WorkflowNodeTimeout
from apps.applications.workflow.runner import plan_workflow
from apps.applications.workflow.validation import WorkflowInvalid
from tests.applications.workflows.conftest import chain, definition, node
from tests.upstream import error, stream, text, tool_call

pytestmark = pytest.mark.django_db


def published(workspace, name: str, description: str = "", **config) -> AgentApp:
    """A published agent app (``tools`` may name apps by ``AgentApp``)."""
    tools = [
        {"type": "app", "id": str(t.pk)} if isinstance(t, AgentApp) else t
        for t in config.pop("tools", [])
    ]
    draft = {"model": "agent-chat", "memory_rounds": 0, "tools": tools, **config}
    app = drafts.create_app(workspace, name=name, description=description, draft=draft, by=None)
    drafts.publish(app, by=None)
    return app


def calls_itself(app: AgentApp) -> AgentApp:
    """``app`` republished with itself among its tools."""
    config = {**app.draft, "tools": [{"type": "app", "id": str(app.pk)}]}
    services.update_draft(app, config)
    drafts.publish(app, by=None)
    return app


def ask(app: AgentApp, prompt: str, *, delegate=True):
    """One DashScope-surface call of ``app``'s latest version, consumed to its end."""
    version = selectors.latest_version(app)
    plan = plan_run(
        app=app,
        version=version,
        config=AppConfigSchema.model_validate(version.config),
        call=Call(prompt=prompt),
        surface=RunSurface.DASHSCOPE,
    )
    events = delegation.run_agent(plan) if delegate else run_app(plan)
    return run_to_end(events)


def tool_message(request) -> str:
    return request.body["messages"][-1]["content"]


def test_an_agent_calls_a_published_agent_in_a_sub_run(acme, chat, upstream):
    helper = published(acme, "Research helper", "Finds facts.", system_prompt="You find facts.")
    lead = published(acme, "Lead", tools=[helper])
    upstream.script(
        "chat",
        tool_call("research_helper", {"prompt": "find the answer"}, call_id="c1"),
        text("The answer is 42."),  # the helper's
        text("Done: 42."),
    )
    done = ask(lead, "What is the answer?")
    assert done.text == "Done: 42."
    first, helpers, last = upstream.requests_for("chat")
    [offered] = first.body["tools"]
    assert offered["function"]["name"] == "research_helper"
    assert offered["function"]["description"] == "Finds facts."
    assert offered["function"]["parameters"]["required"] == ["prompt"]
    assert helpers.body["messages"] == [
        {"role": "system", "content": "You find facts."},
        {"role": "user", "content": "find the answer"},
    ]
    assert tool_message(last) == "The answer is 42."
    parent = Run.objects.get(app=lead)
    child = Run.objects.get(app=helper)
    assert (child.parent_run_id, child.surface, child.status) == (
        parent.pk,
        "dashscope",
        "succeeded",
    )
    assert (child.prompt, child.answer) == ("find the answer", "The answer is 42.")
    assert parent.parent_run_id is None
    [step] = parent.steps.filter(kind="tool")
    assert step.name == "research_helper"
    assert step.output == {
        "content": "The answer is 42.",
        "is_error": False,
        "run_id": str(child.pk),
    }
    assert done.thoughts[0]["observation"] == "The answer is 42."


def test_a_workflow_is_a_tool_taking_its_start_variables(acme, chat, upstream):
    flow = drafts.create_app(
        acme,
        name="Translate",
        description="Translates text.",
        kind=AppKind.WORKFLOW,
        draft=definition(
            [
                node(
                    "start",
                    "start",
                    variables=[
                        {"name": "language", "type": "string", "required": True},
                        {"name": "formal", "type": "boolean"},
                    ],
                ),
                node("end", "end", output="{{ start.query }} in {{ start.language }}"),
            ],
            chain("start", "end"),
        ),
        by=None,
    )
    drafts.publish(flow, by=None)
    lead = published(acme, "Lead", tools=[flow])
    upstream.script(
        "chat",
        tool_call("translate", {"prompt": "hello", "language": "French"}),
        text("Bonjour."),
    )
    assert ask(lead, "Say hello in French").text == "Bonjour."
    first, last = upstream.requests_for("chat")
    parameters = first.body["tools"][0]["function"]["parameters"]
    assert parameters["properties"]["language"] == {"type": "string"}
    assert parameters["properties"]["formal"] == {"type": "boolean"}
    assert parameters["required"] == ["prompt", "language"]
    assert tool_message(last) == "hello in French"
    child = Run.objects.get(app=flow)
    assert child.parent_run_id == Run.objects.get(app=lead).pk


def test_an_app_that_would_call_itself_is_refused(acme, chat, upstream):
    loop = calls_itself(published(acme, "Looper"))
    upstream.script("chat", tool_call("looper", {"prompt": "again"}), text("I stop here."))
    assert ask(loop, "go").text == "I stop here."
    refused = tool_message(upstream.requests_for("chat")[-1])
    assert refused.startswith("Error: App 'Looper' would call itself")
    [record] = Run.objects.all()  # no sub-run began
    [step] = record.steps.filter(kind="tool")
    assert step.output["is_error"] and "run_id" not in step.output


def test_the_depth_limit_refuses_a_call_too_deep(acme, chat, upstream, settings):
    settings.AGENT_DELEGATION_MAX_DEPTH = 1
    bottom = published(acme, "Bottom")
    middle = published(acme, "Middle", tools=[bottom])
    top = published(acme, "Top", tools=[middle])
    upstream.script(
        "chat",
        tool_call("middle", {"prompt": "ask bottom"}),
        tool_call("bottom", {"prompt": "anything"}),  # the middle's: one level too deep
        text("Middle answers alone."),
        text("Top is done."),
    )
    assert ask(top, "go").text == "Top is done."
    middle_second = upstream.requests_for("chat")[2]
    assert "Apps may call apps 1 levels deep at most" in tool_message(middle_second)
    assert tool_message(upstream.requests_for("chat")[3]) == "Middle answers alone."
    assert not Run.objects.filter(app=bottom).exists()
    assert Run.objects.get(app=middle).parent_run_id == Run.objects.get(app=top).pk


def test_a_failing_sub_app_is_the_tools_error_not_the_callers(acme, chat, upstream):
    helper = published(acme, "Helper")
    lead = published(acme, "Lead", tools=[helper])
    upstream.script(
        "chat",
        tool_call("helper", {"prompt": "try"}),
        error(400, "the helper's model refused"),
        text("I answer without the helper."),
    )
    assert ask(lead, "go").text == "I answer without the helper."
    observed = tool_message(upstream.requests_for("chat")[-1])
    assert observed.startswith("Error: App 'Helper' failed: ")
    assert "the helper's model refused" in observed
    child = Run.objects.get(app=helper)
    assert child.status == "failed"
    parent = Run.objects.get(app=lead)
    assert parent.status == "succeeded"
    assert parent.steps.get(kind="tool").output["run_id"] == str(child.pk)


def test_bad_arguments_are_the_tools_error(acme, chat, upstream):
    helper = published(acme, "Helper")
    lead = published(acme, "Lead", tools=[helper])
    upstream.script("chat", tool_call("helper", {"question": "no prompt"}), text("Sorry."))
    assert ask(lead, "go").text == "Sorry."
    assert tool_message(upstream.requests_for("chat")[-1]).startswith(
        "Error: Give 'helper' a prompt"
    )
    assert not Run.objects.filter(app=helper).exists()


def delegating_flow(acme, helper: AgentApp, **agent_node) -> AgentApp:
    """A workflow whose inline agent has ``helper`` as its one tool."""
    tools = [{"type": "app", "id": str(helper.pk)}]
    data = definition(
        [
            node("start", "start"),
            {
                **node("agent_1", "agent", agent={"model": "agent-chat", "tools": tools}),
                **agent_node,
            },
            node("end", "end", output="{{ agent_1.text }}"),
        ],
        chain("start", "agent_1", "end"),
    )
    return drafts.create_app(acme, name="Flow", kind=AppKind.WORKFLOW, draft=data, by=None)


def flow_events(flow: AgentApp):
    return delegation.run_flow(
        plan_workflow(
            app=flow,
            version=None,
            definition=WorkflowDefinition.model_validate(flow.draft),
            prompt="go",
            inputs={},
            session_id=None,
            surface=RunSurface.PLAYGROUND,
        )
    )


def test_a_workflow_tool_node_calls_a_published_app_in_a_sub_run(acme, chat, upstream):
    helper = published(acme, "Helper")
    tool = {"type": "app", "id": str(helper.pk)}
    data = definition(
        [
            node("start", "start"),
            node("ask", "tool", tool=tool, arguments={"prompt": "about {{ sys.query }}"}),
            node("end", "end", output="{{ ask.result }}"),
        ],
        chain("start", "ask", "end"),
    )
    flow = drafts.create_app(acme, name="Flow", kind=AppKind.WORKFLOW, draft=data, by=None)
    upstream.script("chat", text("helped"))
    assert run_to_end(flow_events(flow)).text == "helped"
    assert tool_message(upstream.requests_for("chat")[-1]) == "about go"
    child = Run.objects.get(app=helper)
    parent = Run.objects.get(app=flow)
    assert child.parent_run_id == parent.pk
    assert parent.steps.get(kind="tool").output["run_id"] == str(child.pk)


def test_a_tool_node_naming_an_unpublished_app_is_a_validation_problem(acme, chat):
    draft_only = drafts.create_app(acme, name="Draft", draft={"model": "agent-chat"}, by=None)
    data = definition(
        [
            node("start", "start"),
            node("ask", "tool", tool={"type": "app", "id": str(draft_only.pk)}),
            node("end", "end"),
        ],
        chain("start", "ask", "end"),
    )
    unpublished = r"node .ask. \(data\.\w+\): the app .* is not published yet"
    with pytest.raises(WorkflowInvalid, match=unpublished):
        drafts.create_app(acme, name="Flow", kind=AppKind.WORKFLOW, draft=data, by=None)


LONG_REPLY = [f"w{i} " for i in range(12)]


def test_a_workflow_agent_node_delegates_under_the_workflow_run(acme, chat, upstream):
    helper = published(acme, "Helper")
    flow = delegating_flow(acme, helper)
    upstream.script("chat", tool_call("helper", {"prompt": "help"}), text("helped"), text("ok"))
    assert run_to_end(flow_events(flow)).text == "ok"
    child = Run.objects.get(app=helper)
    parent = Run.objects.get(app=flow)
    assert (child.parent_run_id, child.surface) == (parent.pk, "playground")
    step = parent.steps.get(kind="tool")
    assert (step.node_id, step.output["run_id"]) == ("agent_1", str(child.pk))


def test_a_node_out_of_time_stops_the_app_it_called(acme, chat, upstream):
    helper = published(acme, "Helper")
    flow = delegating_flow(acme, helper, timeout_seconds=1, title="Delegator")
    upstream.script(
        "chat", tool_call("helper", {"prompt": "write"}), stream(LONG_REPLY, delay=0.25)
    )
    with pytest.raises(WorkflowNodeTimeout, match="Node 'Delegator' ran longer than its 1 s"):
        run_to_end(flow_events(flow))
    child = Run.objects.get(app=helper)
    assert child.status == "cancelled"
    assert child.parent_run_id == Run.objects.get(app=flow).pk
    time.sleep(len(LONG_REPLY) * 0.25)
    assert upstream.requests_for("chat")[-1].finished_at is None, "the helper's stream ran on"


def test_a_caller_that_goes_away_cancels_the_app_it_called(acme, chat, upstream):
    helper = published(acme, "Helper")
    flow = delegating_flow(acme, helper)
    upstream.script(
        "chat", tool_call("helper", {"prompt": "write"}), stream(LONG_REPLY, delay=0.25)
    )
    events = flow_events(flow)
    for event in events:
        if isinstance(event, NodeStarted) and event.node_id == "agent_1":
            break
    time.sleep(1)  # the helper is writing
    events.close()
    time.sleep(len(LONG_REPLY) * 0.25)
    assert Run.objects.get(app=flow).status == "cancelled"
    assert Run.objects.get(app=helper).status == "cancelled"
    assert upstream.requests_for("chat")[-1].finished_at is None, "the helper's stream ran on"


def test_a_run_without_a_delegate_offers_no_app_tools(acme, chat, upstream):
    lead = published(acme, "Lead", tools=[published(acme, "Helper")])
    upstream.script("chat", text("alone"))
    assert ask(lead, "go", delegate=False).text == "alone"
    assert "tools" not in upstream.requests_for("chat")[-1].body


def test_tool_names_are_slugs_of_app_names(acme):
    assert tool_name(AgentApp(name="Research Helper (v2)!")) == "research_helper_v2"
    nameless = AgentApp(name="研究助手")
    assert tool_name(nameless) == f"app_{nameless.pk.hex[:8]}"
    assert tool_name(AgentApp(name="a" * 80)) == "a" * 56


def plan_and_solve(model: str) -> dict:
    """Plan-and-Solve: a planner writes the steps (structured output), an agent with tools
    carries out each step in turn (an iteration over ``plan.structured.steps``), and a
    last model call writes the report from the plan and the steps' results."""
    solver = {
        "model": model,
        "system_prompt": "You carry out one step of a plan. Use your tools when they help; "
        "reply with the step's result only.",
        "tools": [{"type": "plugin", "id": "calculator"}],
        "memory_rounds": 0,
    }
    steps_schema = {
        "type": "object",
        "properties": {
            "steps": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 8}
        },
        "required": ["steps"],
    }
    return definition(
        [
            node("start", "start"),
            node(
                "plan",
                "llm",
                model=model,
                system_prompt="Break the task into short, ordered steps. Reply with JSON only.",
                prompt="Task: {{ sys.query }}",
                json_schema=steps_schema,
            ),
            node("steps", "iteration", items="plan.structured.steps", output="solve.text"),
            {
                **node(
                    "solve",
                    "agent",
                    agent=solver,
                    prompt="Task: {{ sys.query }}\nStep {{ steps.index }}: {{ steps.item }}",
                ),
                "parent": "steps",
            },
            node(
                "report",
                "llm",
                model=model,
                system_prompt="You write the final report of a task.",
                prompt="Task: {{ sys.query }}\nPlan: {{ plan.text }}\n"
                "Results, step by step: {{ steps.results }}\nWrite the report.",
            ),
            node("end", "end", output="{{ report.text }}"),
        ],
        chain("start", "plan", "steps", "report", "end"),
    )


def test_plan_and_solve(acme, chat, upstream):
    flow = drafts.create_app(
        acme,
        name="Plan and solve",
        kind=AppKind.WORKFLOW,
        draft=plan_and_solve("agent-chat"),
        by=None,
    )
    version = drafts.publish(flow, by=None)
    upstream.script(
        "chat",
        text('{"steps": ["Multiply 6 by 7", "Add 8 to it"]}'),  # the planner
        tool_call("calculator", {"expression": "6 * 7"}),  # step 0 uses a tool
        text("42"),
        text("50"),  # step 1 answers directly
        text("6 times 7 is 42; adding 8 gives 50."),  # the report
    )
    plan = plan_workflow(
        app=flow,
        version=version,
        definition=WorkflowDefinition.model_validate(version.config),
        prompt="What is 6*7+8?",
        inputs={},
        session_id=None,
        surface=RunSurface.DASHSCOPE,
    )
    done = run_to_end(delegation.run_flow(plan))
    assert done.text == "6 times 7 is 42; adding 8 gives 50."
    planner, step0, step0_after_tool, step1, report = upstream.requests_for("chat")
    assert planner.body["response_format"]["type"] == "json_schema"
    assert tool_message(step0) == "Task: What is 6*7+8?\nStep 0: Multiply 6 by 7"
    assert [t["function"]["name"] for t in step0.body["tools"]] == ["calculator"]
    assert tool_message(step0_after_tool) == "42"
    assert tool_message(step1) == "Task: What is 6*7+8?\nStep 1: Add 8 to it"
    assert 'Results, step by step: ["42", "50"]' in tool_message(report)
    record = Run.objects.get()
    assert record.status == "succeeded"
    nodes = [s.node_id for s in record.steps.filter(kind="node")]
    assert nodes == ["start", "plan", "steps", "solve", "solve", "report", "end"]
    assert [t["action"] for t in done.thoughts] == ["calculator"]
