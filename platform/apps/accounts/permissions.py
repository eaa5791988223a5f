"""Who may do what inside a workspace: the permission matrix of the README, as code.

A caller is a member with a role, a platform admin (acts as admin everywhere) or an API
key (acts like a developer, but cannot manage members, keys or plugins, so a leaked key
cannot mint more keys or let anyone in).
"""

from enum import StrEnum

from apps.accounts.models import Role


class Permission(StrEnum):
    VIEW_WORKSPACE = "view_workspace"
    RENAME_WORKSPACE = "rename_workspace"
    MANAGE_MEMBERS = "manage_members"
    VIEW_API_KEYS = "view_api_keys"
    CREATE_API_KEYS = "create_api_keys"
    REVOKE_ANY_API_KEY = "revoke_any_api_key"
    EDIT_KNOWLEDGE = "edit_knowledge"
    EDIT_APPS = "edit_apps"
    USE_MODELS = "use_models"
    CONFIGURE_PLUGINS = "configure_plugins"
    #: Switching the workspace's MCP server (``/mcp``) on or off: it opens every published
    #: app and knowledge base to the workspace's API keys through one more door.
    MANAGE_MCP_SERVING = "manage_mcp_serving"
    #: The workspace's own settings of the models granted to it (the response cache).
    CONFIGURE_MODELS = "configure_models"


# Platform-wide actions (creating workspaces, registering model endpoints, setting quotas)
# are not workspace permissions: they belong to platform admins (Django staff) alone.

API_KEY = "api_key"

MATRIX: dict[str, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.DEVELOPER: frozenset(
        {
            Permission.VIEW_WORKSPACE,
            Permission.VIEW_API_KEYS,
            Permission.CREATE_API_KEYS,
            Permission.EDIT_KNOWLEDGE,
            Permission.EDIT_APPS,
            Permission.USE_MODELS,
        }
    ),
    Role.VIEWER: frozenset({Permission.VIEW_WORKSPACE, Permission.USE_MODELS}),
    API_KEY: frozenset(
        {
            Permission.VIEW_WORKSPACE,
            Permission.EDIT_KNOWLEDGE,
            Permission.EDIT_APPS,
            Permission.USE_MODELS,
        }
    ),
}


def permissions_of(principal_role: str) -> frozenset[Permission]:
    return MATRIX.get(principal_role, frozenset())
