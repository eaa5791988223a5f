"""Console API: the plugin catalogue, a workspace's choices, and test-running tools."""

from django.http import HttpRequest
from ninja import Router

from apps.accounts.context import workspace_context
from apps.accounts.permissions import Permission
from apps.plugins import selectors, services
from apps.plugins.invocation import invoke_tool
from apps.plugins.models import Kind
from apps.plugins.schemas import InvokeIn, InvokeOut, PluginOut, PluginUpdateIn, ToolOut
from apps.plugins.selectors import PluginInWorkspace
from kernel.errors import NotFound

router = Router(tags=["plugins"])


def _out(entry: PluginInWorkspace) -> dict:
    plugin = entry.plugin
    return {
        "kind": plugin.kind,
        "id": plugin.plugin_id,
        "display_name": plugin.display_name,
        "description": plugin.description,
        "distribution": plugin.distribution,
        "version": plugin.version,
        "status": plugin.status,
        "error": plugin.error,
        "available": plugin.available,
        "enabled": entry.enabled,
        "requires_platform_admin": services.requires_platform_admin(plugin),
        "settings_schema": services.settings_schema(plugin),
        "settings": services.masked_settings(entry),
        "manifest": plugin.manifest,
    }


def _entry(request: HttpRequest, kind: str, plugin_id: str):
    ctx = workspace_context(request)
    entry = selectors.plugin_in_workspace(ctx.workspace, kind, plugin_id)
    if entry is None:
        raise NotFound(f"No plugin {kind}/{plugin_id} is installed.")
    return ctx, entry


@router.get("/plugins", response=list[PluginOut])
def list_plugins(request: HttpRequest, kind: Kind | None = None):
    """Every installed plugin, with its status and this workspace's choice about it."""
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    return [_out(entry) for entry in selectors.plugins_in_workspace(ctx.workspace, kind)]


@router.get("/plugins/{kind}/{plugin_id}", response=PluginOut)
def get_plugin(request: HttpRequest, kind: Kind, plugin_id: str):
    ctx, entry = _entry(request, kind, plugin_id)
    ctx.require(Permission.VIEW_WORKSPACE)
    return _out(entry)


@router.patch("/plugins/{kind}/{plugin_id}", response=PluginOut)
def update_plugin(request: HttpRequest, kind: Kind, plugin_id: str, payload: PluginUpdateIn):
    """Enable, disable or configure a plugin for this workspace (workspace admins; a plugin
    with ``requires_platform_admin`` is switched on by platform admins only)."""
    ctx, entry = _entry(request, kind, plugin_id)
    ctx.require(Permission.CONFIGURE_PLUGINS)
    choice = services.configure_plugin(
        ctx.workspace, entry, enabled=payload.enabled, settings=payload.settings, by=ctx.user
    )
    return _out(PluginInWorkspace(entry.plugin, choice))


@router.get("/tools", response=list[ToolOut])
def list_tools(request: HttpRequest):
    """The tools this workspace's apps may use: enabled here and installed."""
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    return [
        {
            "id": entry.plugin.plugin_id,
            "display_name": entry.plugin.display_name,
            "description": entry.plugin.description,
            "parameters": entry.plugin.manifest.get("parameters", {}),
            "timeout_seconds": entry.plugin.manifest.get("timeout_seconds", 0),
        }
        for entry in selectors.usable_tools(ctx.workspace)
    ]


@router.post("/tools/{plugin_id}/invoke", response=InvokeOut)
def invoke(request: HttpRequest, plugin_id: str, payload: InvokeIn):
    """Test-run a tool. A failure or time-out of the tool is a result with ``is_error``."""
    ctx = workspace_context(request)
    ctx.require(Permission.EDIT_APPS)
    invocation = invoke_tool(ctx.workspace, plugin_id, payload.arguments)
    return {
        "tool": invocation.tool,
        "duration_ms": invocation.duration_ms,
        **invocation.result.model_dump(),
    }
