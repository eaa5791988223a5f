"""Custom HTTP tools in the admin: for platform admins to look, not to edit (a tool's rules
and its encrypted credential are kept by the console API). The secret is never shown."""

from django.contrib import admin

from apps.http_tools.models import HttpTool


@admin.register(HttpTool)
class HttpToolAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "method", "url", "auth_type", "source", "updated_at"]
    list_filter = ["workspace", "method", "auth_type", "source"]
    search_fields = ["name", "url", "workspace__slug"]
    list_select_related = ["workspace"]
    exclude = ["encrypted_secret"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
