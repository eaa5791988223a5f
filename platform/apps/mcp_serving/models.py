"""Whether a workspace answers at ``/mcp``.

A table of this app's own rather than a column on ``Workspace``: the switch belongs to the
MCP surface, which sits above ``accounts`` and is the only reader; a row also records who
switched it and when, and a workspace with no row is simply off (the default), so no
workspace gains a door by an upgrade.
"""

import uuid

from django.db import models

from apps.accounts.models import Workspace
from apps.accounts.tenancy import Audited, WorkspaceOwned, user_reference


class McpServing(WorkspaceOwned, Audited):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.OneToOneField(
        Workspace, on_delete=models.CASCADE, related_name="+", editable=False
    )
    enabled = models.BooleanField(default=False)
    #: Who last switched it (``created_by`` is who first did).
    updated_by = user_reference()

    class Meta:
        verbose_name = "MCP server setting"

    def __str__(self) -> str:
        return f"MCP server of {self.workspace_id}: {'on' if self.enabled else 'off'}"
