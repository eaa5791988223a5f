"""An agent app calling a tool of an MCP server registered in the console: offered to the
model by its function name, called through the SDK, traced and metered; a broken server is
an observation, and the run goes on."""

import dashscope
import pytest
from dashscope import Application

from apps.applications.models import Run
from apps.mcp_servers.models import McpTool
from apps.usage.models import UsageRecord
from apps.usage.services import flush_usage
from tests.applications.conftest import make_app, play, publish
from tests.mcp_servers.fixtures import register, tool_named
from tests.upstream import text, tool_call

pytestmark = pytest.mark.django_db(transaction=True)


def mcp_tool(server: dict, name: str) -> dict:
    return {"type": "mcp", "id": tool_named(server, name)["id"]}


@pytest.mark.slow
def test_an_agent_app_answers_with_an_mcp_tool_over_the_app_api(
    acme_console,
    acme_key,
    upstream,
    calc_url,
    platform_url,
    monkeypatch,
):
    monkeypatch.setattr(dashscope, "base_http_api_url", f"{platform_url}/api/v1")
    server = register(acme_console, url=calc_url)
    app = make_app(acme_console, tools=[mcp_tool(server, "add")])
    publish(acme_console, app["id"])
    upstream.script("chat", tool_call("calc__add", {"a": 19, "b": 23}), text("19 + 23 = 42."))

    response = Application.call(app_id=app["id"], api_key=acme_key, prompt="What is 19 + 23?")

    assert response.status_code == 200, response
    assert response.output.text == "19 + 23 = 42."
    first, second = (r.body for r in upstream.requests_for("chat"))
    offered = first["tools"][0]["function"]
    assert (offered["name"], offered["description"]) == ("calc__add", "Add two integers.")
    assert offered["parameters"]["required"] == ["a", "b"]
    assert second["messages"][-1]["content"] == "42"
    run = Run.objects.get()
    step = run.steps.get(kind="tool")
    assert step.name == "calc__add"
    assert step.input["arguments"] == {"a": 19, "b": 23}
    assert "42" in str(step.output)
    flush_usage()
    [call] = UsageRecord.objects.filter(capability="tool")
    assert (call.model, call.surface, call.status) == ("mcp:calc/add", "dashscope", "ok")
    assert str(call.app_id) == app["id"] and call.api_key.name == "program"


def test_a_hanging_server_is_an_observation_and_the_run_goes_on(acme_console, upstream, broken):
    state = broken("hang")
    server = register(acme_console, url=state.url, timeout_seconds=1)
    app = make_app(acme_console, tools=[mcp_tool(server, "add")])
    upstream.script("chat", tool_call("calc__add", {"a": 1, "b": 2}), text("The tool is down."))
    out = play(acme_console, app["id"], "add them")
    assert out["text"] == "The tool is down."
    observation = upstream.requests_for("chat")[-1].body["messages"][-1]["content"]
    assert observation == "Error: The MCP server 'calc' did not answer within 1 seconds."
    assert Run.objects.get().status == "succeeded"
    flush_usage()
    [call] = UsageRecord.objects.filter(capability="tool")
    assert (call.status, call.error_code, call.surface) == ("error", "McpTimeout", "playground")


def test_a_switched_off_tool_is_not_offered_and_cannot_be_published(
    acme_console,
    upstream,
    calc_url,
):
    server = register(acme_console, url=calc_url)
    app = make_app(acme_console, tools=[mcp_tool(server, "add"), mcp_tool(server, "explode")])
    McpTool.objects.filter(name="explode").update(enabled=False)
    upstream.script("chat", text("ok"))
    play(acme_console, app["id"], "hi")
    offered = [t["function"]["name"] for t in upstream.requests_for("chat")[0].body["tools"]]
    assert offered == ["calc__add"]
    refused = acme_console.post(f"/apps/{app['id']}/publish", {"notes": ""})
    assert refused.status_code == 400
    assert "switched off" in refused.json()["message"]


def test_a_tool_of_no_server_here_is_refused_in_the_draft(acme_console, globex, calc_url):
    server = register(acme_console, url=calc_url)
    McpTool.objects.filter(server_id=server["id"]).update(workspace=globex)  # not acme's now
    response = acme_console.post(
        "/apps", {"name": "Borrower", "draft": {"tools": [mcp_tool(server, "add")]}}
    )
    assert response.status_code == 400
    assert "no MCP tool" in response.json()["message"]
    not_an_id = acme_console.post(
        "/apps", {"name": "Typo", "draft": {"tools": [{"type": "mcp", "id": "add"}]}}
    )
    assert not_an_id.status_code == 400 and "a UUID" in not_an_id.json()["message"]
