"""Reads of knowledge bases, documents and chunks, always inside one workspace."""

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce

from apps.accounts.models import Workspace
from apps.accounts.tenancy import get_in_workspace
from apps.knowledge.models import Chunk, Document, KnowledgeBase


def knowledge_bases(workspace: Workspace) -> QuerySet[KnowledgeBase]:
    return (
        KnowledgeBase.objects.in_workspace(workspace)
        .select_related("embedding_endpoint", "rerank_endpoint", "workspace")
        .annotate(
            document_count=Count("documents"),
            chunk_count=Coalesce(Sum("documents__chunk_count"), 0),
        )
    )


def knowledge_base(workspace: Workspace, knowledge_base_id: object) -> KnowledgeBase:
    return get_in_workspace(knowledge_bases(workspace), workspace, pk=knowledge_base_id)


def documents(knowledge_base: KnowledgeBase, status: str | None = None) -> QuerySet[Document]:
    found = Document.objects.in_workspace(knowledge_base.workspace).filter(
        knowledge_base=knowledge_base
    )
    return found.filter(status=status) if status else found


def document(knowledge_base: KnowledgeBase, document_id: object) -> Document:
    return get_in_workspace(
        Document.objects.filter(knowledge_base=knowledge_base),
        knowledge_base.workspace,
        pk=document_id,
    )


def chunks(document: Document) -> QuerySet[Chunk]:
    return (
        Chunk.objects.in_workspace(document.workspace)
        .filter(document=document)
        .order_by("ordinal")
        .only("id", "ordinal", "text", "token_count", "metadata")
    )
