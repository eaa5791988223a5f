"""An app calling the workspace's HTTP tools: the model sees the tool's schema, the call
reaches the API, and a slow or failing API is an observation, never a failed run."""

import pytest

from apps.applications.models import Run
from tests.applications.conftest import make_app, play
from tests.http_tools.conftest import create_tool, upstream_api  # noqa: F401  (a fixture)
from tests.upstream import text, tool_call

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_http_tool_called_by_the_model(acme_console, upstream, upstream_api):  # noqa: F811
    tool = create_tool(
        acme_console,
        url=f"{upstream_api.base_url}/weather",
        description="Weather in a city",
        parameters={
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    )
    app = make_app(acme_console, tools=[{"type": "http", "id": tool["id"]}])
    upstream.script("chat", tool_call("get_weather", {"city": "杭州"}), text("Sunny in 杭州."))
    out = play(acme_console, app["id"], "Weather in Hangzhou?")
    assert out["text"] == "Sunny in 杭州."
    offered = upstream.requests_for("chat")[0].body["tools"][0]["function"]
    assert offered["name"] == "get_weather"
    assert offered["parameters"]["required"] == ["city"]
    assert upstream_api.last.query == {"city": ["杭州"]}
    observation = upstream.requests_for("chat")[-1].body["messages"][-1]["content"]
    assert "杭州" in observation and not observation.startswith("Error")


def test_a_timed_out_http_tool_is_an_observation(acme_console, upstream, upstream_api):  # noqa: F811
    tool = create_tool(
        acme_console, name="slow_api", url=f"{upstream_api.base_url}/slow", timeout_seconds=1
    )
    app = make_app(acme_console, tools=[{"type": "http", "id": tool["id"]}])
    upstream.script("chat", tool_call("slow_api", {}), text("The service is slow."))
    out = play(acme_console, app["id"], "try the slow one")
    assert out["text"] == "The service is slow."
    observation = upstream.requests_for("chat")[-1].body["messages"][-1]["content"]
    assert observation.startswith("Error: ") and "did not answer within 1 seconds" in observation
    assert Run.objects.get().status == "succeeded"


def test_a_blocked_address_is_an_observation(acme_console, upstream):
    tool = create_tool(acme_console, name="metadata", url="http://169.254.169.254/latest/meta-data")
    app = make_app(acme_console, tools=[{"type": "http", "id": tool["id"]}])
    upstream.script("chat", tool_call("metadata", {}), text("I cannot reach it."))
    assert play(acme_console, app["id"], "read the metadata")["text"] == "I cannot reach it."
    observation = upstream.requests_for("chat")[-1].body["messages"][-1]["content"]
    assert observation.startswith("Error: ") and "169.254.169.254" in observation
