from django.contrib import admin

from apps.usage.models import DailyUsage, Quota, UsageRecord


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


@admin.register(Quota)
class QuotaAdmin(admin.ModelAdmin):
    list_display = [
        "workspace",
        "endpoint",
        "requests_per_minute",
        "tokens_per_minute",
        "tokens_per_day",
        "tokens_per_month",
        "concurrent_requests",
        "updated_at",
    ]
    list_filter = ["workspace", "endpoint"]
    search_fields = ["workspace__slug", "endpoint__name"]
    autocomplete_fields = ["workspace"]
    list_select_related = ["workspace", "endpoint"]
