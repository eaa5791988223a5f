"""Knowledge bases in the admin: for platform admins to look, not to edit (creating one
needs its vector index, uploading needs the pipeline: both go through the console API)."""

from django.contrib import admin

from apps.knowledge.models import Document, KnowledgeBase


class ReadOnly(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # deleting must drop the vector index and files: the console API does


@admin.register(KnowledgeBase)
class KnowledgeBaseAdmin(ReadOnly):
    list_display = ["name", "workspace", "embedding_endpoint", "embedding_dimension", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name", "workspace__slug"]
    list_select_related = ["workspace", "embedding_endpoint"]


@admin.register(Document)
class DocumentAdmin(ReadOnly):
    list_display = ["name", "knowledge_base", "status", "progress", "chunk_count", "queued_at"]
    list_filter = ["status", "loader", "workspace"]
    search_fields = ["name", "checksum", "error"]
    list_select_related = ["knowledge_base"]
    exclude = ["claimed_by", "lease_expires_at"]
