"""MCP servers a workspace registers so that its apps can call their tools.

A server is reached over streamable HTTP, the older HTTP+SSE transport, or stdio (a
command from the platform admin's allow-list, ``settings.MCP_STDIO_COMMANDS``). Its
headers and bearer token are stored encrypted (``kernel.encryption``) and decrypted only
to connect. Its tools are listed from the server and stored (``McpTool``), each enabled or
disabled for the workspace's apps.
"""

import uuid

from django.db import models

from apps.accounts.models import Workspace
from apps.accounts.tenancy import Audited, WorkspaceOwned

MAX_TIMEOUT_SECONDS = 120


class Transport(models.TextChoices):
    STREAMABLE_HTTP = "streamable_http", "Streamable HTTP"
    SSE = "sse", "HTTP + SSE (older)"
    STDIO = "stdio", "stdio (allow-listed command)"


class McpServer(WorkspaceOwned, Audited):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="mcp_servers")
    name = models.CharField(
        max_length=32, help_text="Prefixes its tools' names as a model sees them."
    )
    transport = models.CharField(max_length=16, choices=Transport.choices)
    url = models.CharField(max_length=2000, blank=True, help_text="For the HTTP transports.")
    command = models.CharField(
        max_length=64, blank=True, help_text="For stdio: a name in MCP_STDIO_COMMANDS."
    )
    #: Header names only; their values are in ``encrypted_secrets``.
    header_names = models.JSONField(default=list, blank=True)
    #: kernel.encryption token of {"headers": {name: value}, "bearer_token": str | None}.
    encrypted_secrets = models.TextField(blank=True, editable=False)
    timeout_seconds = models.PositiveSmallIntegerField(default=30)
    server_name = models.CharField(max_length=200, blank=True)
    server_version = models.CharField(max_length=100, blank=True)
    tools_refreshed_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "MCP server"
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="mcp_server_name"),
            models.CheckConstraint(
                condition=models.Q(timeout_seconds__gte=1)
                & models.Q(timeout_seconds__lte=MAX_TIMEOUT_SECONDS),
                name="mcp_server_timeout_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class McpTool(WorkspaceOwned):
    """One tool a server listed, as it listed it, and whether apps may call it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    server = models.ForeignKey(McpServer, on_delete=models.CASCADE, related_name="tools")
    name = models.CharField(max_length=128)
    description = models.TextField(blank=True)
    input_schema = models.JSONField(default=dict)
    enabled = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0, help_text="Its place in the server's list.")

    class Meta:
        ordering = ["server", "position"]
        verbose_name = "MCP tool"
        constraints = [
            models.UniqueConstraint(fields=["server", "name"], name="mcp_tool_name"),
        ]

    def __str__(self) -> str:
        return f"{self.server.name}/{self.name}"
