"""Users, workspaces, memberships and roles, API keys: who is calling, and for which workspace."""
