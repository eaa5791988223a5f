"""Registering MCP servers in the console: connect, list and store tools, secrets kept
secret, switches, test runs, the stdio allow-list, and another workspace's ids."""

import pytest

from apps.mcp_servers.models import McpServer, McpTool
from apps.mcp_servers.services import secrets_of
from tests.console import ConsoleClient
from tests.mcp_servers.fixtures import register, tool_named
from tests.tenancy import assert_foreign_object_is_not_found

TOKEN = "sk-mcp-secret-4242"


def test_register_lists_and_stores_the_tools(acme_console, calc_url):
    server = register(acme_console, url=calc_url)
    assert server["last_error"] is None
    assert server["server_info"]["name"] == "calc"
    assert [t["name"] for t in server["tools"]] == ["add", "echo_headers", "explode", "slow"]
    add = tool_named(server, "add")
    assert add["enabled"] is True
    assert add["function_name"] == "calc__add"
    assert add["description"] == "Add two integers."
    assert add["input_schema"]["required"] == ["a", "b"]
    assert server["tools_refreshed_at"]
    assert McpTool.objects.filter(server_id=server["id"]).count() == 4


def test_the_older_sse_transport(acme_console, calc_sse_url):
    server = register(acme_console, transport="sse", url=calc_sse_url)
    assert server["last_error"] is None
    invoked = acme_console.post(
        f"/mcp-servers/{server['id']}/tools/{tool_named(server, 'add')['id']}/invoke",
        {"arguments": {"a": 2, "b": 40}},
    ).json()
    assert (invoked["content"], invoked["is_error"]) == ("42", False)


def test_headers_and_bearer_token_are_sent_encrypted_and_never_shown(acme_console, calc_url):
    server = register(
        acme_console, url=calc_url, headers={"X-Tenant": "acme-42"}, bearer_token=TOKEN
    )
    assert server["headers"] == {"X-Tenant": "***"}
    assert server["has_bearer_token"] is True
    stored = McpServer.objects.get(pk=server["id"])
    assert TOKEN not in stored.encrypted_secrets and "acme-42" not in stored.encrypted_secrets
    echo = tool_named(server, "echo_headers")
    invoked = acme_console.post(
        f"/mcp-servers/{server['id']}/tools/{echo['id']}/invoke", {"arguments": {}}
    ).json()
    # The server got them; what comes back to the console has them scrubbed.
    assert "***" in invoked["content"]
    assert TOKEN not in invoked["content"] and "acme-42" not in invoked["content"]
    for listing in (
        acme_console.get("/mcp-servers"),
        acme_console.get(f"/mcp-servers/{server['id']}"),
    ):
        assert TOKEN not in listing.content.decode()
        assert "acme-42" not in listing.content.decode()


def test_update_keeps_masked_secrets_and_removes_the_token_on_empty(acme_console, calc_url):
    server = register(
        acme_console, url=calc_url, headers={"X-Tenant": "acme-42"}, bearer_token=TOKEN
    )
    path = f"/mcp-servers/{server['id']}"
    kept = acme_console.patch(path, {"headers": {"X-Tenant": "***"}, "timeout_seconds": 5}).json()
    assert kept["has_bearer_token"] is True and kept["timeout_seconds"] == 5
    stored = McpServer.objects.get(pk=server["id"])
    assert secrets_of(stored) == {"headers": {"X-Tenant": "acme-42"}, "bearer_token": TOKEN}
    removed = acme_console.patch(path, {"bearer_token": "", "headers": {}}).json()
    assert removed["has_bearer_token"] is False and removed["headers"] == {}
    refused = acme_console.patch(path, {"headers": {"X-Other": "***"}})
    assert refused.status_code == 400 and "none is stored" in refused.json()["message"]


def test_switching_a_tool_off_and_on(acme_console, calc_url):
    server = register(acme_console, url=calc_url)
    add = tool_named(server, "add")
    path = f"/mcp-servers/{server['id']}/tools/{add['id']}"
    assert acme_console.patch(path, {"enabled": False}).json()["enabled"] is False
    refreshed = acme_console.post(f"/mcp-servers/{server['id']}/refresh").json()
    assert tool_named(refreshed, "add")["enabled"] is False  # a refresh keeps the switch
    assert acme_console.patch(path, {"enabled": True}).json()["enabled"] is True


def test_test_run_validates_arguments_and_reports_tool_errors(acme_console, calc_url):
    server = register(acme_console, url=calc_url)
    base = f"/mcp-servers/{server['id']}/tools"
    bad = acme_console.post(
        f"{base}/{tool_named(server, 'add')['id']}/invoke", {"arguments": {"a": "x"}}
    )
    assert bad.status_code == 400
    assert bad.json()["code"] == "InvalidParameter" and "arguments" in bad.json()["message"]
    failed = acme_console.post(f"{base}/{tool_named(server, 'explode')['id']}/invoke", {}).json()
    assert failed["is_error"] is True and "flux capacitor" in failed["content"]


def test_connection_test_stores_nothing(acme_console, calc_url):
    server = register(acme_console, url=calc_url)
    McpTool.objects.filter(server_id=server["id"]).delete()
    outcome = acme_console.post(f"/mcp-servers/{server['id']}/test").json()
    assert outcome["ok"] is True and outcome["tool_count"] == 4 and outcome["error"] is None
    assert outcome["server_name"] == "calc"
    assert not McpTool.objects.filter(server_id=server["id"]).exists()


def test_refresh_forgets_tools_the_server_no_longer_lists(acme_console, calc_url):
    server = register(acme_console, url=calc_url)
    gone = McpTool.objects.create(
        workspace_id=McpServer.objects.get(pk=server["id"]).workspace_id,
        server_id=server["id"],
        name="retired",
    )
    refreshed = acme_console.post(f"/mcp-servers/{server['id']}/refresh").json()
    assert "retired" not in [t["name"] for t in refreshed["tools"]]
    assert not McpTool.objects.filter(pk=gone.pk).exists()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "9lives"}, "name:"),
        ({"name": "has space"}, "name:"),
        ({"url": "ftp://example.com/mcp"}, "url:"),
        ({"url": "https://user:pw@example.com/mcp"}, "credentials"),
        ({"url": None}, "url: required"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": 121}, "timeout_seconds"),
        ({"headers": {"Host": "evil"}}, "not a header"),
        ({"headers": {"Bad Name": "value"}}, "not a header"),
        ({"headers": {"X-Key": "a\r\nInjected: 1"}}, "control characters"),
        ({"headers": {"Authorization": "Bearer abcd"}, "bearer_token": TOKEN}, "not both"),
        ({"bearer_token": "abc"}, "bearer_token"),
        ({"transport": "stdio", "command": "anything", "url": None}, "not an allowed"),
        ({"transport": "stdio", "command": "anything"}, "only for the HTTP transports"),
        ({"transport": "websocket"}, "transport"),
        ({"command": "local"}, "only for the stdio"),
    ],
)
def test_bad_settings_are_refused(acme_console, fields, message):
    body = {"name": "calc", "transport": "streamable_http", "url": "https://mcp.example.com/mcp"}
    response = acme_console.post("/mcp-servers", {**body, **fields})
    assert response.status_code == 400, response.content
    assert message in response.json()["message"]
    assert not McpServer.objects.exists()


def test_names_are_unique_in_a_workspace(acme_console, calc_url):
    register(acme_console, url=calc_url)
    again = acme_console.post(
        "/mcp-servers", {"name": "calc", "transport": "streamable_http", "url": calc_url}
    )
    assert again.status_code == 409


def test_a_viewer_sees_but_may_not_change(acme, vera, alice, calc_url):
    server = register(ConsoleClient().as_user(alice, "acme"), url=calc_url)
    viewer = ConsoleClient().as_user(vera, "acme")
    assert viewer.get("/mcp-servers").status_code == 200
    tool = tool_named(server, "add")
    for method, path, body in [
        ("post", "/mcp-servers", {"name": "x", "transport": "sse", "url": calc_url}),
        ("patch", f"/mcp-servers/{server['id']}", {"timeout_seconds": 3}),
        ("post", f"/mcp-servers/{server['id']}/test", None),
        ("post", f"/mcp-servers/{server['id']}/refresh", None),
        ("patch", f"/mcp-servers/{server['id']}/tools/{tool['id']}", {"enabled": False}),
        ("post", f"/mcp-servers/{server['id']}/tools/{tool['id']}/invoke", {"arguments": {}}),
        ("delete", f"/mcp-servers/{server['id']}", None),
    ]:
        response = viewer.request(method.upper(), path, body)
        assert response.status_code == 403, (method, path, response.content)


def test_stdio_commands_come_from_the_allow_list(acme_console, stdio_allowed):
    commands = acme_console.get("/mcp-servers/stdio-commands").json()
    assert commands == [{"name": "local", "description": "The tests' stdio server."}]
    server = register(acme_console, name="local", transport="stdio", command="local")
    assert server["last_error"] is None, server["last_error"]
    assert server["command"] == "local" and server["url"] is None
    environment = tool_named(server, "environment")
    invoked = acme_console.post(
        f"/mcp-servers/{server['id']}/tools/{environment['id']}/invoke", {}
    ).json()
    # Only what the diagnostics shell gives a child, plus the admin's own entry.
    assert invoked["data"]["result"] == ["GREETING_STYLE", "LC_ALL", "PATH"]


def test_stdio_refused_when_nothing_is_allowed(acme_console):
    assert acme_console.get("/mcp-servers/stdio-commands").json() == []
    response = acme_console.post(
        "/mcp-servers", {"name": "local", "transport": "stdio", "command": "local"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "McpCommandNotAllowed"


def test_another_workspaces_servers_and_tools_are_not_found(
    acme_console, bob, globex, acme, calc_url
):
    server = register(acme_console, url=calc_url, bearer_token=TOKEN)
    tool = tool_named(server, "add")
    base = f"/mcp-servers/{server['id']}"

    def snapshot():
        stored = McpServer.objects.get(pk=server["id"])
        return (
            stored.name,
            stored.timeout_seconds,
            list(stored.tools.values_list("enabled", flat=True)),
        )

    for method, path, body in [
        ("GET", base, None),
        ("PATCH", base, {"timeout_seconds": 3}),
        ("POST", f"{base}/test", None),
        ("POST", f"{base}/refresh", None),
        ("PATCH", f"{base}/tools/{tool['id']}", {"enabled": False}),
        ("POST", f"{base}/tools/{tool['id']}/invoke", {"arguments": {"a": 1, "b": 2}}),
        ("DELETE", base, None),
    ]:
        assert_foreign_object_is_not_found(
            method=method,
            path=path,
            outsider=bob,
            outsider_workspace=globex,
            owner_workspace=acme,
            json=body,
            snapshot=snapshot,
            secret_values=(TOKEN,),
        )
    assert ConsoleClient().as_user(bob, "globex").get("/mcp-servers").json() == []


def test_a_tool_of_another_server_is_not_found_under_this_one(acme_console, calc_url, calc_sse_url):
    first = register(acme_console, url=calc_url)
    second = register(acme_console, name="other", transport="sse", url=calc_sse_url)
    response = acme_console.patch(
        f"/mcp-servers/{second['id']}/tools/{tool_named(first, 'add')['id']}", {"enabled": False}
    )
    assert response.status_code == 404


def test_changing_the_transport_drops_how_the_old_one_was_reached(
    acme_console, calc_url, stdio_allowed
):
    server = register(
        acme_console, url=calc_url, headers={"X-Tenant": "acme-42"}, bearer_token=TOKEN
    )
    changed = acme_console.patch(
        f"/mcp-servers/{server['id']}", {"transport": "stdio", "command": "local"}
    ).json()
    assert (changed["transport"], changed["command"], changed["url"]) == ("stdio", "local", None)
    assert changed["headers"] == {} and changed["has_bearer_token"] is False
    assert "greet" in [tool["name"] for tool in changed["tools"]]  # listed again
    assert McpServer.objects.get(pk=server["id"]).encrypted_secrets == ""
