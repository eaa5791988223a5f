"""MCP fixtures, a plugin of the whole suite (tests/conftest.py): real servers on loopback
(allowed through the SSRF guard for the test only), the stdio server on the allow-list,
and a helper to register a server."""

import sys
from pathlib import Path

import pytest

from tests.console import ConsoleClient
from tests.mcp_servers.servers import broken_server, good_server, many_tools_server, serve

STDIO_SERVER = Path(__file__).with_name("stdio_server.py")


@pytest.fixture
def loopback_allowed(monkeypatch):
    monkeypatch.setenv("MINISTUDIO_TOOLS_ALLOWED_NETWORKS", "127.0.0.1/32")


@pytest.fixture
def calc_url(loopback_allowed):
    """The good server over streamable HTTP."""
    running = serve(good_server().streamable_http_app(), "/mcp")
    yield running.url
    running.stop()


@pytest.fixture
def calc_sse_url(loopback_allowed):
    """The good server over the older HTTP+SSE transport."""
    running = serve(good_server().sse_app(), "/sse")
    yield running.url
    running.stop()


@pytest.fixture
def sprawl_url(loopback_allowed):
    running = serve(many_tools_server().streamable_http_app(), "/mcp")
    yield running.url
    running.stop()


@pytest.fixture
def broken(loopback_allowed):
    """``broken(mode)``: a server that breaks as ``mode`` says (see ``BrokenServer``)."""
    started = []

    def start(mode: str):
        state, httpd = broken_server(mode)
        started.append((state, httpd))
        return state

    yield start
    for state, httpd in started:
        state.release.set()
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def stdio_allowed(settings):
    settings.MCP_STDIO_COMMANDS = {
        "local": {
            "command": [sys.executable, str(STDIO_SERVER)],
            "description": "The tests' stdio server.",
            "env": {"GREETING_STYLE": "warm"},
        }
    }


def register(console: ConsoleClient, **fields) -> dict:
    body = {"name": "calc", "transport": "streamable_http", "timeout_seconds": 10, **fields}
    response = console.post("/mcp-servers", body)
    assert response.status_code == 201, response.content
    return response.json()


def tool_named(server: dict, name: str) -> dict:
    [tool] = [tool for tool in server["tools"] if tool["name"] == name]
    return tool
