"""Writes for the MCP surface: switching a workspace's ``/mcp`` on or off."""

from apps.accounts.models import User, Workspace
from apps.mcp_serving.models import McpServing


def set_enabled(workspace: Workspace, *, enabled: bool, by: User | None) -> McpServing:
    """Turn the workspace's MCP server on or off; ``by`` is recorded as who last did."""
    setting, created = McpServing.objects.get_or_create(
        workspace=workspace, defaults={"enabled": enabled, "created_by": by, "updated_by": by}
    )
    if not created and setting.enabled != enabled:
        setting.enabled = enabled
        setting.updated_by = by
        setting.save(update_fields=["enabled", "updated_by", "updated_at"])
    return setting
