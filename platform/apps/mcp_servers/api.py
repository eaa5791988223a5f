"""Console API: a workspace's MCP servers, their tools, connection tests and test runs."""

import uuid

from django.http import HttpRequest
from ninja import Router, Status

from apps.accounts.context import caller_user, workspace_context
from apps.accounts.permissions import Permission
from apps.mcp_servers import selectors, services
from apps.mcp_servers.models import McpServer, McpTool
from apps.mcp_servers.schemas import (
    McpConnectionTestOut,
    McpInvokeIn,
    McpInvokeOut,
    McpServerCreateIn,
    McpServerOut,
    McpServerUpdateIn,
    McpStdioCommandOut,
    McpToolOut,
    McpToolSwitchIn,
)
from apps.mcp_servers.stdio import allowed_commands

router = Router(tags=["mcp-servers"])


def _tool_out(tool: McpTool) -> dict:
    return {
        "id": tool.pk,
        "name": tool.name,
        "description": tool.description,
        "input_schema": tool.input_schema,
        "enabled": tool.enabled,
        "function_name": services.function_name(tool),
    }


def _out(server: McpServer) -> dict:
    """The server as callers see it: secrets never, only header names and a flag."""
    return {
        "id": server.pk,
        "name": server.name,
        "transport": server.transport,
        "url": server.url or None,
        "command": server.command or None,
        "headers": {name: services.MASK for name in server.header_names},
        "has_bearer_token": bool(server.encrypted_secrets)
        and bool(services.secrets_of(server).get("bearer_token")),
        "timeout_seconds": server.timeout_seconds,
        "tools": [_tool_out(tool) for tool in server.tools.all()],
        "tools_refreshed_at": server.tools_refreshed_at,
        "last_error": {"code": server.last_error_code, "message": server.last_error_message}
        if server.last_error_code
        else None,
        "server_info": {"name": server.server_name, "version": server.server_version}
        if server.server_name
        else None,
        "created_at": server.created_at,
        "updated_at": server.updated_at,
    }


def _server(request: HttpRequest, server_id: uuid.UUID, permission: Permission) -> McpServer:
    ctx = workspace_context(request)
    ctx.require(permission)
    return selectors.mcp_server(ctx.workspace, server_id)


@router.get("/mcp-servers", response=list[McpServerOut])
def list_mcp_servers(request: HttpRequest):
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    return [_out(server) for server in selectors.mcp_servers(ctx.workspace)]


@router.get("/mcp-servers/stdio-commands", response=list[McpStdioCommandOut])
def list_stdio_commands(request: HttpRequest):
    """The stdio servers the platform admin allows (MINISTUDIO_MCP_STDIO_COMMANDS)."""
    workspace_context(request).require(Permission.VIEW_WORKSPACE)
    return [
        {"name": command.name, "description": command.description}
        for command in allowed_commands().values()
    ]


@router.post("/mcp-servers", response={201: McpServerOut})
def create_mcp_server(request: HttpRequest, payload: McpServerCreateIn):
    """Register a server and list its tools; a server that cannot be reached is saved
    with ``last_error`` set."""
    ctx = workspace_context(request)
    ctx.require(Permission.EDIT_APPS)
    server = services.create_mcp_server(
        ctx.workspace, **payload.model_dump(), by=caller_user(request)
    )
    return Status(201, _out(server))


@router.get("/mcp-servers/{server_id}", response=McpServerOut)
def get_mcp_server(request: HttpRequest, server_id: uuid.UUID):
    return _out(_server(request, server_id, Permission.VIEW_WORKSPACE))


@router.patch("/mcp-servers/{server_id}", response=McpServerOut)
def update_mcp_server(request: HttpRequest, server_id: uuid.UUID, payload: McpServerUpdateIn):
    server = _server(request, server_id, Permission.EDIT_APPS)
    changes = payload.model_dump(exclude_unset=True)
    return _out(services.update_mcp_server(server, **changes))


@router.delete("/mcp-servers/{server_id}", response={204: None})
def delete_mcp_server(request: HttpRequest, server_id: uuid.UUID):
    services.delete_mcp_server(_server(request, server_id, Permission.EDIT_APPS))
    return Status(204, None)


@router.post("/mcp-servers/{server_id}/test", response=McpConnectionTestOut)
def test_mcp_server(request: HttpRequest, server_id: uuid.UUID):
    """Connect and list the tools, storing nothing."""
    outcome = services.test_connection(_server(request, server_id, Permission.EDIT_APPS))
    error = outcome.error
    return {
        "ok": outcome.ok,
        "server_name": outcome.server_name,
        "server_version": outcome.server_version,
        "tool_count": outcome.tool_count,
        "duration_ms": outcome.duration_ms,
        "error": {"code": error.code, "message": error.message} if error else None,
    }


@router.post("/mcp-servers/{server_id}/refresh", response=McpServerOut)
def refresh_mcp_server(request: HttpRequest, server_id: uuid.UUID):
    """List the tools again; on failure ``last_error`` says why and the tools stay."""
    return _out(services.refresh_tools(_server(request, server_id, Permission.EDIT_APPS)))


@router.patch("/mcp-servers/{server_id}/tools/{tool_id}", response=McpToolOut)
def switch_mcp_tool(
    request: HttpRequest, server_id: uuid.UUID, tool_id: uuid.UUID, payload: McpToolSwitchIn
):
    server = _server(request, server_id, Permission.EDIT_APPS)
    tool = selectors.mcp_tool(server.workspace, server, tool_id)
    return _tool_out(services.set_tool_enabled(tool, payload.enabled))


@router.post("/mcp-servers/{server_id}/tools/{tool_id}/invoke", response=McpInvokeOut)
def invoke_mcp_tool(
    request: HttpRequest, server_id: uuid.UUID, tool_id: uuid.UUID, payload: McpInvokeIn
):
    """Test-run the tool as an agent would; what the server does is the result
    (``is_error``); arguments that break the tool's schema are 400."""
    server = _server(request, server_id, Permission.EDIT_APPS)
    tool = selectors.mcp_tool(server.workspace, server, tool_id)
    invocation = services.invoke_mcp_tool(tool, payload.arguments)
    return {
        "tool": invocation.tool,
        "duration_ms": invocation.duration_ms,
        **invocation.result.model_dump(),
    }
