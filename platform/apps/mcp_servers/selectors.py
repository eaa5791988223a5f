"""Reads of MCP servers and their tools, always inside one workspace."""

from collections.abc import Iterable

from django.db.models import Prefetch, QuerySet

from apps.accounts.models import Workspace
from apps.accounts.tenancy import get_in_workspace
from apps.mcp_servers.models import McpServer, McpTool
from kernel.ids import valid_uuids


def mcp_servers(workspace: Workspace) -> QuerySet[McpServer]:
    tools = McpTool.objects.order_by("position")
    return (
        McpServer.objects.in_workspace(workspace)
        .order_by("name")
        .prefetch_related(Prefetch("tools", queryset=tools))
    )


def mcp_server(workspace: Workspace, server_id: object) -> McpServer:
    """The server ``server_id`` of ``workspace``; ``NotFound`` for another workspace's."""
    return get_in_workspace(mcp_servers(workspace), workspace, pk=server_id)


def mcp_tool(workspace: Workspace, server: McpServer, tool_id: object) -> McpTool:
    """The tool ``tool_id`` of ``server``; ``NotFound`` for another server's."""
    return get_in_workspace(
        McpTool.objects.select_related("server").filter(server=server), workspace, pk=tool_id
    )


def usable_tool(workspace: Workspace, tool_id: object) -> McpTool:
    """An enabled tool of ``workspace`` for an app to call; ``NotFound`` otherwise."""
    return get_in_workspace(
        McpTool.objects.select_related("server").filter(enabled=True), workspace, pk=tool_id
    )


def tools_named(workspace: Workspace, tool_ids: Iterable[object]) -> QuerySet[McpTool]:
    """The tools of ``workspace`` among ``tool_ids`` (ids that are not UUIDs name none)."""
    return McpTool.objects.in_workspace(workspace).filter(pk__in=valid_uuids(tool_ids))


def enabled_tool_ids(workspace: Workspace, tool_ids: Iterable[object]) -> set[str]:
    """Which of ``tool_ids`` are enabled tools of ``workspace``, as canonical strings."""
    found = tools_named(workspace, tool_ids).filter(enabled=True).values_list("pk", flat=True)
    return {str(pk) for pk in found}
