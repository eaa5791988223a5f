from django.contrib import admin

from apps.plugins.models import Plugin, WorkspacePlugin


@admin.register(Plugin)
class PluginAdmin(admin.ModelAdmin):
    """Read-only: the registry mirrors what is installed (`ministudio plugins sync`)."""

    list_display = ["plugin_id", "kind", "version", "distribution", "status", "synced_at"]
    list_filter = ["kind", "status"]
    search_fields = ["plugin_id", "display_name", "distribution"]
    readonly_fields = [f.name for f in Plugin._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WorkspacePlugin)
class WorkspacePluginAdmin(admin.ModelAdmin):
    """Which workspace enabled what. Settings are edited in the console API, where secrets
    are validated and encrypted; here they are only shown, secrets never."""

    list_display = ["plugin", "workspace", "enabled", "updated_at", "updated_by"]
    list_filter = ["enabled", "plugin__kind", "workspace"]
    search_fields = ["plugin__plugin_id", "workspace__slug"]
    list_select_related = ["plugin", "workspace", "updated_by"]
    fields = ["workspace", "plugin", "enabled", "settings", "updated_at", "updated_by"]
    readonly_fields = ["workspace", "plugin", "settings", "updated_at", "updated_by"]

    def has_add_permission(self, request) -> bool:
        return False
