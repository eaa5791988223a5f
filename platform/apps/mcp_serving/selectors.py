"""Reads for the MCP surface, always inside one workspace: its switch, its published apps
and knowledge bases, and its ready documents."""

from functools import reduce
from operator import or_

from django.db.models import Q, QuerySet

from apps.accounts.models import Workspace
from apps.applications import selectors as app_selectors
from apps.applications.models import AgentApp, AppVersion
from apps.knowledge import selectors as knowledge_selectors
from apps.knowledge.models import Document, DocumentStatus, KnowledgeBase
from apps.mcp_serving.models import McpServing
from kernel.errors import NotFound

#: The most text a document resource answers with; MCP clients put it in a model's context.
DOCUMENT_TEXT_LIMIT = 200_000


def is_enabled(workspace: Workspace) -> bool:
    return McpServing.objects.in_workspace(workspace).filter(enabled=True).exists()


def published_apps(workspace: Workspace) -> list[tuple[AgentApp, AppVersion]]:
    """Every app with a published version, oldest first, with its latest version (the one
    the app API runs)."""
    apps = list(
        app_selectors.apps(workspace)
        .filter(published_version__isnull=False)
        .order_by("created_at", "id")
    )
    if not apps:
        return []
    latest = reduce(or_, (Q(app=app.pk, number=app.published_version) for app in apps))
    versions = {
        version.app_id: version
        for version in AppVersion.objects.in_workspace(workspace).filter(latest)
    }
    return [(app, versions[app.pk]) for app in apps if app.pk in versions]


def knowledge_bases(workspace: Workspace) -> list[KnowledgeBase]:
    return list(knowledge_selectors.knowledge_bases(workspace).order_by("created_at", "id"))


def ready_documents(workspace: Workspace) -> QuerySet[Document]:
    """The workspace's ready documents, oldest first (a stable order to page through)."""
    return (
        Document.objects.in_workspace(workspace)
        .filter(status=DocumentStatus.READY)
        .select_related("knowledge_base")
        .order_by("created_at", "id")
    )


def ready_document(workspace: Workspace, knowledge_base_id: str, document_id: str) -> Document:
    """One ready document of the workspace's knowledge base, or ``NotFound`` (another
    workspace's ids, and documents still being ingested, alike)."""
    knowledge_base = knowledge_selectors.knowledge_base(workspace, knowledge_base_id)
    document = knowledge_selectors.document(knowledge_base, document_id)
    if document.status != DocumentStatus.READY:
        raise NotFound(f"Document '{document_id}' is not ready yet.")
    return document


def document_text(document: Document) -> tuple[str, bool]:
    """The document's text as its chunks in order, and whether it was cut at
    ``DOCUMENT_TEXT_LIMIT``."""
    parts: list[str] = []
    size = 0
    texts = knowledge_selectors.chunks(document).values_list("text", flat=True)
    for text in texts.iterator(chunk_size=200):
        if size + len(text) > DOCUMENT_TEXT_LIMIT:
            parts.append(text[: DOCUMENT_TEXT_LIMIT - size])
            return "\n\n".join(parts), True
        parts.append(text)
        size += len(text) + 2
    return "\n\n".join(parts), False
