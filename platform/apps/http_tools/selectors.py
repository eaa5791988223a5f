"""Reads of custom HTTP tools, always inside one workspace."""

from django.db.models import QuerySet

from apps.accounts.models import Workspace
from apps.accounts.tenancy import get_in_workspace
from apps.http_tools.models import HttpTool


def http_tools(workspace: Workspace) -> QuerySet[HttpTool]:
    return HttpTool.objects.in_workspace(workspace).order_by("name")


def http_tool(workspace: Workspace, tool_id: object) -> HttpTool:
    """The tool ``tool_id`` of ``workspace``; ``NotFound`` for another workspace's."""
    return get_in_workspace(http_tools(workspace), workspace, pk=tool_id)
