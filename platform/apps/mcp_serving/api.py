"""Console API: a workspace's MCP server (``/mcp``), seen and switched on or off."""

from django.http import HttpRequest
from ninja import Router

from apps.accounts.context import workspace_context
from apps.accounts.permissions import Permission
from apps.mcp_serving import selectors, services
from apps.mcp_serving.schemas import McpServingIn, McpServingOut
from apps.mcp_serving.transport import PATH

router = Router(tags=["mcp-serving"])


@router.get("/mcp-serving", response=McpServingOut)
def get_mcp_serving(request: HttpRequest):
    """Whether the workspace answers MCP clients at ``/mcp`` with its API keys."""
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    return {"enabled": selectors.is_enabled(ctx.workspace), "path": PATH}


@router.patch("/mcp-serving", response=McpServingOut)
def update_mcp_serving(request: HttpRequest, payload: McpServingIn):
    """Switch the workspace's MCP server on or off (workspace admins)."""
    ctx = workspace_context(request)
    ctx.require(Permission.MANAGE_MCP_SERVING)
    setting = services.set_enabled(ctx.workspace, enabled=payload.enabled, by=ctx.user)
    return {"enabled": setting.enabled, "path": PATH}
