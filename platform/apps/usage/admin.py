from django.contrib import admin

from apps.usage.models import DailyUsage, UsageRecord


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(UsageRecord)
class UsageRecordAdmin(ReadOnly):
    list_display = [
        "created_at",
        "workspace",
        "model",
        "surface",
        "status",
        "input_tokens",
        "output_tokens",
        "latency_ms",
        "cost",
    ]
    list_filter = ["status", "surface", "capability", "workspace"]
    search_fields = ["model", "request_id", "workspace__slug"]
    date_hierarchy = "created_at"
    list_select_related = ["workspace"]


@admin.register(DailyUsage)
class DailyUsageAdmin(ReadOnly):
    list_display = [
        "day",
        "workspace",
        "model",
        "api_key",
        "requests",
        "errors",
        "input_tokens",
        "output_tokens",
        "cost",
    ]
    list_filter = ["workspace", "model"]
    date_hierarchy = "day"
    list_select_related = ["workspace", "api_key"]
