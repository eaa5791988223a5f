from django.db import models

from apps.accounts.models import Workspace
from apps.accounts.tenancy import WorkspaceOwned, user_reference


class Kind(models.TextChoices):
    LOADER = "loader", "Loader"
    TOOL = "tool", "Tool"
    MODEL = "model", "Model provider"


class PluginStatus(models.TextChoices):
    LOADED = "loaded", "Loaded"
    FAILED = "failed", "Failed"
    INCOMPATIBLE = "incompatible", "Incompatible"
    MISSING = "missing", "Not installed"


class Plugin(models.Model):
    """An installed plugin, as last seen by `ministudio plugins sync`. Global, not tenant data."""

    kind = models.CharField(max_length=16, choices=Kind.choices)
    plugin_id = models.CharField("id", max_length=100)
    display_name = models.CharField(max_length=200, blank=True)
    description = models.TextField(blank=True)
    distribution = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=PluginStatus.choices)
    error = models.TextField(blank=True)
    settings_schema = models.JSONField(default=dict, blank=True)
    manifest = models.JSONField(
        default=dict, blank=True, help_text="Kind-specific facts: tool parameters, file types..."
    )
    enabled_by_default = models.BooleanField(default=False)
    requires_platform_admin = models.BooleanField(
        default=False, help_text="Only a platform admin may enable it in a workspace."
    )
    first_seen_at = models.DateTimeField(auto_now_add=True)
    synced_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "plugin_id"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "plugin_id"], name="registry_one_plugin_per_id")
        ]

    def __str__(self) -> str:
        return f"{self.kind}/{self.plugin_id}"

    @property
    def available(self) -> bool:
        return self.status == PluginStatus.LOADED


class WorkspacePlugin(WorkspaceOwned):
    """A workspace's choice about one plugin: enabled or not, and its settings.

    Non-secret settings are plain JSON; secret ones (``SecretStr`` fields) are encrypted
    together in ``encrypted_secrets`` and never leave the server again.
    """

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="plugins")
    plugin = models.ForeignKey(Plugin, on_delete=models.CASCADE, related_name="workspaces")
    enabled = models.BooleanField(default=False)
    settings = models.JSONField(default=dict, blank=True)
    encrypted_secrets = models.TextField(blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = user_reference()

    class Meta:
        verbose_name = "workspace plugin setting"
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "plugin"], name="registry_one_row_per_plugin"
            )
        ]

    def __str__(self) -> str:
        return f"{self.plugin} in {self.workspace.slug}: {'on' if self.enabled else 'off'}"
