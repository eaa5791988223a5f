"""Servers that go wrong: each gives a clear error where the developer looks (the
server's ``last_error``, a test run's result) and, called by an app, an observation the
model reads while the run goes on."""

import time

import pytest

from apps.mcp_servers import connection
from apps.mcp_servers.connection import Endpoint, ServerFailed
from tests.console import ConsoleClient
from tests.mcp_servers.fixtures import register, tool_named
from tests.worker_process import free_port

pytestmark = pytest.mark.django_db(transaction=True)


def invoke(console: ConsoleClient, server: dict, tool: str, arguments: dict | None = None) -> dict:
    response = console.post(
        f"/mcp-servers/{server['id']}/tools/{tool_named(server, tool)['id']}/invoke",
        {"arguments": arguments or {}},
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_server_that_refuses_connections(acme_console, loopback_allowed):
    server = register(acme_console, url=f"http://127.0.0.1:{free_port()}/mcp")
    assert server["tools"] == []
    assert server["last_error"]["code"] == "McpUnreachable"
    assert "refused the connection" in server["last_error"]["message"]
    test = acme_console.post(f"/mcp-servers/{server['id']}/test").json()
    assert test["ok"] is False and test["error"]["code"] == "McpUnreachable"


def test_a_server_that_hangs_times_out(acme_console, broken):
    state = broken("hang")
    server = register(acme_console, url=state.url, timeout_seconds=1)
    began = time.monotonic()
    result = invoke(acme_console, server, "add")
    assert time.monotonic() - began < 5
    assert result["is_error"] is True and result["data"] == {"code": "McpTimeout"}
    assert result["content"] == "The MCP server 'calc' did not answer within 1 seconds."


def test_a_slow_tool_times_out(acme_console, calc_url):
    server = register(acme_console, url=calc_url, timeout_seconds=1)
    result = invoke(acme_console, server, "slow", {"seconds": 10})
    assert result["is_error"] is True and result["data"]["code"] == "McpTimeout"


@pytest.mark.parametrize("mode", ["malformed", "garbage"])
def test_a_malformed_result(acme_console, broken, mode):
    state = broken(mode)
    server = register(acme_console, url=state.url, timeout_seconds=5)
    assert server["last_error"] is None  # listing works; the call's answer is broken
    began = time.monotonic()
    result = invoke(acme_console, server, "add")
    assert time.monotonic() - began < 4  # told at once, not after the time-out
    assert result["is_error"] is True and result["data"]["code"] == "McpMalformed"
    assert "sent a malformed message" in result["content"]


def test_a_server_that_disappears_mid_call(acme_console, broken):
    state = broken("vanish")
    server = register(acme_console, url=state.url, timeout_seconds=5)
    result = invoke(acme_console, server, "add")
    assert result["is_error"] is True
    assert result["data"]["code"] == "McpDisconnected", result
    assert "tools/call" in state.calls


def test_a_stdio_server_that_exits_mid_call(acme_console, stdio_allowed):
    server = register(acme_console, name="local", transport="stdio", command="local")
    result = invoke(acme_console, server, "vanish")
    assert result["is_error"] is True and result["data"]["code"] == "McpDisconnected"
    # The next call starts it afresh.
    assert invoke(acme_console, server, "greet", {"name": "Ada"})["content"] == "你好, Ada"


def test_a_stdio_server_that_floods_its_output(acme_console, stdio_allowed):
    server = register(acme_console, name="local", transport="stdio", command="local")
    long = invoke(acme_console, server, "flood", {"size": 150_000})
    assert long["is_error"] is False
    assert len(long["content"]) < 101_000 and "cut at 100000 characters" in long["content"]
    flood = invoke(acme_console, server, "flood", {"size": 9_000_000})
    assert flood["is_error"] is True and flood["data"]["code"] == "McpOutputTooLarge"


def test_a_server_listing_a_thousand_tools(acme_console, sprawl_url):
    server = register(acme_console, name="sprawl", url=sprawl_url, timeout_seconds=30)
    assert server["tools"] == []
    assert server["last_error"]["code"] == "McpTooManyTools"
    assert "more than 256 tools" in server["last_error"]["message"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/mcp", "a loopback address"),
        ("http://10.1.2.3/mcp", "a private address"),
        ("http://169.254.169.254/mcp", "a cloud metadata endpoint"),
        ("http://metadata.google.internal/mcp", "a cloud metadata endpoint"),
    ],
)
def test_private_addresses_are_refused(acme_console, url, reason):
    server = register(acme_console, url=url.format(port=free_port()))
    assert server["last_error"]["code"] == "McpBlockedAddress"
    assert reason in server["last_error"]["message"]


def test_metadata_stays_blocked_when_the_operator_allows_a_network(acme_console, monkeypatch):
    monkeypatch.setenv("MINISTUDIO_TOOLS_ALLOWED_NETWORKS", "169.254.0.0/16")
    server = register(acme_console, url="http://169.254.169.254/mcp")
    assert server["last_error"]["code"] == "McpBlockedAddress"


def test_a_wrong_path_or_credentials_is_an_http_error(acme_console, calc_url):
    server = register(acme_console, url=calc_url.replace("/mcp", "/nothing-here"))
    assert server["last_error"]["code"] == "McpHttpError"
    assert "HTTP 404" in server["last_error"]["message"]


def test_a_call_stops_when_the_run_stops(calc_url):
    endpoint = Endpoint("calc", "streamable_http", 30, url=calc_url)
    began = time.monotonic()

    class Stopped(Exception):
        pass

    def check() -> None:
        if time.monotonic() - began > 0.5:
            raise Stopped

    with pytest.raises(Stopped):
        connection.call_tool(endpoint, "slow", {"seconds": 20}, check)
    assert time.monotonic() - began < 5


def test_secrets_are_scrubbed_from_errors(calc_url):
    secret = "tok-very-secret-value"
    endpoint = Endpoint(
        "calc",
        "streamable_http",
        5,
        url=calc_url,
        headers={"Authorization": f"Bearer {secret}"},
    )
    result = connection.call_tool(endpoint, "echo_headers", {})
    assert secret not in result.content and "***" in result.content
    wrong = Endpoint("calc", "streamable_http", 5, url=calc_url + "-x", headers=endpoint.headers)
    with pytest.raises(ServerFailed) as failed:
        connection.list_tools(wrong)
    assert failed.value.code == "McpHttpError" and secret not in failed.value.message


@pytest.mark.parametrize(("mode", "problem"), [("twins", "twice"), ("long_name", "200 characters")])
def test_a_listing_that_breaks_the_naming_rules(acme_console, broken, mode, problem):
    server = register(acme_console, url=broken(mode).url)
    assert server["tools"] == []
    assert server["last_error"]["code"] == "McpMalformed"
    assert problem in server["last_error"]["message"]
