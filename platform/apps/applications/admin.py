"""Read-only admin views of agent apps and their runs, for platform admins."""

from django.contrib import admin

from apps.applications.models import AgentApp, AppVersion, Run, Step


class VersionInline(admin.TabularInline):
    model = AppVersion
    fields = ("number", "notes", "published_by", "published_at")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(AgentApp)
class AgentAppAdmin(admin.ModelAdmin):
    list_display = ("name", "workspace", "updated_at")
    list_filter = ("workspace",)
    search_fields = ("name",)
    readonly_fields = ("workspace", "name", "description", "draft", "created_by")
    inlines = [VersionInline]

    def has_add_permission(self, request) -> bool:
        return False


class StepInline(admin.TabularInline):
    model = Step
    fields = ("index", "kind", "name", "latency_ms", "input_tokens", "output_tokens", "error")
    readonly_fields = fields
    extra = 0
    can_delete = False


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ("app", "status", "surface", "latency_ms", "started_at")
    list_filter = ("status", "surface", "workspace")
    readonly_fields = [f.name for f in Run._meta.fields]
    inlines = [StepInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
