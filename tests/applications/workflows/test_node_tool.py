"""The tool node: calls a tool plugin enabled in the workspace, one of its HTTP tools or an
enabled tool of one of its MCP servers with arguments rendered from the variables; what the
tool says, errors included, is the node's output; a tool that cannot be used here fails the
node."""

import pytest
from pydantic import ValidationError

from apps.applications.models import Run
from apps.applications.workflow.engine import WorkflowNodeFailed
from apps.applications.workflow.nodes.tool import Tool, ToolSettings
from apps.mcp_servers.models import McpTool
from apps.plugins.models import Kind
from apps.plugins.selectors import plugin_in_workspace
from apps.plugins.services import configure_plugin
from apps.usage.models import UsageRecord
from apps.usage.services import flush_usage
from tests.applications.workflows.conftest import chain, definition, node, node_outputs, run, text
from tests.http_tools.conftest import create_tool, upstream_api  # noqa: F401  (a fixture)
from tests.mcp_servers.fixtures import register, tool_named

pytestmark = pytest.mark.django_db

CALCULATOR = {"type": "plugin", "id": "calculator"}


def calling(tool: dict, arguments: dict) -> dict:
    """start (a number input ``n``) → the tool → end (its result)."""
    return definition(
        [
            node("start", "start", variables=[{"name": "n", "type": "number", "default": 7}]),
            node("calc", "tool", tool=tool, arguments=arguments),
            node("end", "end", output="{{ calc.result }}"),
        ],
        chain("start", "calc", "end"),
    )


def test_a_plugin_tool_is_called_with_rendered_arguments(workflow_app):
    app = workflow_app(calling(CALCULATOR, {"expression": "{{ start.n }} * 6"}))
    events = run(app)
    assert node_outputs(events)["calc"] == {"result": "42", "is_error": False, "json": 42}
    assert text(events) == "42"
    [step] = [s for s in Run.objects.get().steps.all() if s.kind == "tool"]
    assert (step.name, step.node_id) == ("calculator", "calc")
    assert step.input == {"arguments": {"expression": "7 * 6"}}
    assert step.output == {"content": "42", "is_error": False}


def test_a_tools_error_is_an_output_not_a_failure(workflow_app):
    events = run(workflow_app(calling(CALCULATOR, {"expression": "1 / 0"})))
    outputs = node_outputs(events)["calc"]
    assert outputs["is_error"] is True and outputs["json"] is None
    assert "division by zero" in outputs["result"]
    assert Run.objects.get().status == "succeeded"
    [step] = [s for s in Run.objects.get().steps.all() if s.kind == "tool"]
    assert "division by zero" in step.error


def test_arguments_the_tool_refuses_are_an_error_output(workflow_app):
    events = run(workflow_app(calling(CALCULATOR, {"formula": "1 + 1"})))
    outputs = node_outputs(events)["calc"]
    assert outputs["is_error"] is True and "arguments.expression" in outputs["result"]


def test_a_tool_not_installed_fails_the_node(workflow_app):
    app = workflow_app(calling({"type": "plugin", "id": "teleporter"}, {}))
    with pytest.raises(
        WorkflowNodeFailed,
        match=r"Node 'calc' \(tool\): the tool plugin 'teleporter' is not enabled",
    ):
        run(app)


def test_a_tool_disabled_in_the_workspace_fails_the_node(workflow_app, acme):
    entry = plugin_in_workspace(acme, Kind.TOOL, "calculator")
    configure_plugin(acme, entry, enabled=False)
    app = workflow_app(calling(CALCULATOR, {"expression": "1"}))
    with pytest.raises(WorkflowNodeFailed, match="'calculator' is not enabled in this workspace"):
        run(app)


def test_an_http_tool_with_a_typed_argument(workflow_app, acme_console, upstream_api):  # noqa: F811
    tool = create_tool(
        acme_console,
        url=f"{upstream_api.base_url}/weather",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
            "required": ["city", "days"],
        },
    )
    app = workflow_app(
        calling(
            {"type": "http", "id": tool["id"]},
            {"city": "{{ sys.query }}", "days": "{{ start.n }}"},
        )
    )
    events = run(app, "杭州")
    outputs = node_outputs(events)["calc"]
    assert outputs["is_error"] is False
    assert outputs["json"] == {"ok": True, "city": "杭州", "method": "GET", "path": "/weather"}
    assert upstream_api.last.query == {"city": ["杭州"], "days": ["7"]}


def test_an_http_tool_that_answers_500_is_an_error_output(
    workflow_app,
    acme_console,
    upstream_api,  # noqa: F811
):
    tool = create_tool(acme_console, name="broken", url=f"{upstream_api.base_url}/fail")
    events = run(workflow_app(calling({"type": "http", "id": tool["id"]}, {})))
    outputs = node_outputs(events)["calc"]
    assert outputs["is_error"] is True and outputs["result"].startswith("HTTP 500")


def test_an_http_tool_of_no_one_fails_the_node(workflow_app):
    app = workflow_app(calling({"type": "http", "id": "0c9c2b52-5a1e-4ad4-9d25-8f0f62a4f1d2"}, {}))
    with pytest.raises(WorkflowNodeFailed, match=r"the HTTP tool '0c9c2b52.*does not exist"):
        run(app)


def test_uses_and_reads():
    settings = ToolSettings.model_validate(
        {
            "tool": CALCULATOR,
            "arguments": {"expression": "{{ a.x }} + {{ b.y }}", "n": [1, "{{ c.z }}"]},
        }
    )
    kind = Tool()
    assert kind.uses(settings).tools == [CALCULATOR]
    assert [(r.reference, r.where) for r in kind.reads(settings)] == [
        ("a.x", "arguments.expression"),
        ("b.y", "arguments.expression"),
        ("c.z", "arguments.n"),
    ]


@pytest.mark.parametrize(
    "data",
    [
        {"tool": {"type": "app", "id": "x"}},
        {"tool": {"type": "plugin", "id": ""}},
        {"tool": CALCULATOR, "arguments": "1 + 1"},
        {},
    ],
)
def test_bad_settings_are_refused(data):
    with pytest.raises(ValidationError):
        ToolSettings.model_validate(data)


def test_an_mcp_tool_with_typed_arguments(workflow_app, acme_console, calc_url):
    server = register(acme_console, url=calc_url)
    add = {"type": "mcp", "id": tool_named(server, "add")["id"]}
    app = workflow_app(calling(add, {"a": "{{ start.n }}", "b": 35}))
    events = run(app)
    assert node_outputs(events)["calc"] == {"result": "42", "is_error": False, "json": 42}
    [step] = [s for s in Run.objects.get().steps.all() if s.kind == "tool"]
    assert (step.name, step.node_id) == ("calc__add", "calc")
    flush_usage()
    [call] = UsageRecord.objects.filter(capability="tool")
    assert (call.model, call.app_node) == ("mcp:calc/add", "calc")


def test_a_switched_off_mcp_tool_fails_the_node(workflow_app, acme_console, calc_url):
    server = register(acme_console, url=calc_url)
    add = tool_named(server, "add")
    McpTool.objects.filter(pk=add["id"]).update(enabled=False)
    app = workflow_app(calling({"type": "mcp", "id": add["id"]}, {"a": 1, "b": 2}))
    with pytest.raises(WorkflowNodeFailed, match="switched off"):
        run(app)
