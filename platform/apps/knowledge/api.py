"""Console API: knowledge bases, their documents and chunks, and the hit test (命中测试)."""

import json
import time
import uuid

from django.http import HttpRequest
from ninja import File, Form, Router, Status, UploadedFile
from ninja.pagination import paginate

from apps.accounts.context import caller_user, workspace_context
from apps.accounts.permissions import Permission
from apps.knowledge import progress, selectors, services
from apps.knowledge.models import DocumentStatus, KnowledgeBase, Parser
from apps.knowledge.retrieval import Filters, retrieve
from apps.knowledge.retrieval_settings import RetrievalSettings
from apps.knowledge.schemas import (
    ChunkOut,
    DocumentOut,
    DocumentUpdateIn,
    HitTestIn,
    HitTestOut,
    KnowledgeBaseCreateIn,
    KnowledgeBaseOut,
    KnowledgeBaseUpdateIn,
    UploadOut,
)
from kernel.edge import reject_nul
from kernel.errors import InvalidParameter
from kernel.openapi import GATEWAY_ERRORS, also_answers
from kernel.paging import Paging

router = Router(tags=["knowledge"])


def _out(knowledge_base: KnowledgeBase) -> dict:
    return {
        "id": knowledge_base.pk,
        "name": knowledge_base.name,
        "description": knowledge_base.description,
        "embedding_model": knowledge_base.embedding_endpoint.name,
        "embedding_dimension": knowledge_base.embedding_dimension,
        "rerank_model": knowledge_base.rerank_endpoint.name
        if knowledge_base.rerank_endpoint
        else None,
        "rerank_mode": knowledge_base.rerank_mode,
        "chunking": knowledge_base.chunking,
        "parser": knowledge_base.parser,
        "retrieval": knowledge_base.retrieval,
        "document_count": getattr(knowledge_base, "document_count", 0),
        "chunk_count": getattr(knowledge_base, "chunk_count", 0),
        "created_at": knowledge_base.created_at,
        "updated_at": knowledge_base.updated_at,
    }


def _knowledge_base(request: HttpRequest, knowledge_base_id: uuid.UUID, permission: Permission):
    ctx = workspace_context(request)
    ctx.require(permission)
    return selectors.knowledge_base(ctx.workspace, knowledge_base_id)


@router.get("/knowledge-bases", response=list[KnowledgeBaseOut])
def list_knowledge_bases(request: HttpRequest):
    ctx = workspace_context(request)
    ctx.require(Permission.VIEW_WORKSPACE)
    return [_out(kb) for kb in selectors.knowledge_bases(ctx.workspace)]


@router.post("/knowledge-bases", response={201: KnowledgeBaseOut})
def create_knowledge_base(request: HttpRequest, payload: KnowledgeBaseCreateIn):
    ctx = workspace_context(request)
    ctx.require(Permission.EDIT_KNOWLEDGE)
    created = services.create_knowledge_base(
        ctx.workspace, **payload.model_dump(), by=caller_user(request)
    )
    return Status(201, _out(selectors.knowledge_base(ctx.workspace, created.pk)))


@router.get("/knowledge-bases/{knowledge_base_id}", response=KnowledgeBaseOut)
def get_knowledge_base(request: HttpRequest, knowledge_base_id: uuid.UUID):
    return _out(_knowledge_base(request, knowledge_base_id, Permission.VIEW_WORKSPACE))


@router.patch("/knowledge-bases/{knowledge_base_id}", response=KnowledgeBaseOut)
def update_knowledge_base(
    request: HttpRequest, knowledge_base_id: uuid.UUID, payload: KnowledgeBaseUpdateIn
):
    knowledge_base = _knowledge_base(request, knowledge_base_id, Permission.EDIT_KNOWLEDGE)
    services.update_knowledge_base(knowledge_base, **payload.model_dump(exclude_unset=True))
    return _out(selectors.knowledge_base(knowledge_base.workspace, knowledge_base.pk))


@router.delete("/knowledge-bases/{knowledge_base_id}", response={204: None})
def delete_knowledge_base(request: HttpRequest, knowledge_base_id: uuid.UUID):
    services.delete_knowledge_base(
        _knowledge_base(request, knowledge_base_id, Permission.EDIT_KNOWLEDGE)
    )
    return Status(204, None)


# --- documents ------------------------------------------------------------------------------


@router.post("/knowledge-bases/{knowledge_base_id}/documents", response={202: UploadOut})
def upload_documents(
    request: HttpRequest,
    knowledge_base_id: uuid.UUID,
    files: File[list[UploadedFile]],
    tags: Form[str] = "",
    metadata: Form[str] = "",
    parser: Form[Parser | None] = None,
):
    """Upload one or more files (multipart field ``files``, repeated). Answers at once
    with each document ``queued`` (or ``duplicate``); ingestion runs on the workers.
    ``tags``: comma-separated; ``metadata``: a JSON object; both apply to every file.
    ``parser``: auto, text or ocr for these files; the knowledge base's when left out."""
    knowledge_base = _knowledge_base(request, knowledge_base_id, Permission.EDIT_KNOWLEDGE)
    try:
        parsed_metadata = json.loads(metadata) if metadata.strip() else {}
    except ValueError:
        raise InvalidParameter("metadata: must be a JSON object.") from None
    if not isinstance(parsed_metadata, dict):
        raise InvalidParameter("metadata: must be a JSON object.")
    reject_nul(parsed_metadata, "metadata")
    outcomes = services.upload_documents(
        knowledge_base,
        [services.UploadedFile(f.name, f.read(), f.content_type or "") for f in files],
        tags=[tag.strip() for tag in tags.split(",") if tag.strip()],
        metadata=parsed_metadata,
        parser=parser,
        by=caller_user(request),
    )
    return Status(
        202,
        {
            "documents": [
                {"name": o.name, "duplicate": o.duplicate, "document": o.document} for o in outcomes
            ]
        },
    )


@router.get("/knowledge-bases/{knowledge_base_id}/documents", response=list[DocumentOut])
@paginate(Paging)
def list_documents(
    request: HttpRequest, knowledge_base_id: uuid.UUID, status: DocumentStatus | None = None
):
    knowledge_base = _knowledge_base(request, knowledge_base_id, Permission.VIEW_WORKSPACE)
    return progress.documents(knowledge_base, status)


@router.get("/knowledge-bases/{knowledge_base_id}/documents/{document_id}", response=DocumentOut)
def get_document(request: HttpRequest, knowledge_base_id: uuid.UUID, document_id: uuid.UUID):
    knowledge_base = _knowledge_base(request, knowledge_base_id, Permission.VIEW_WORKSPACE)
    return progress.document(knowledge_base, document_id)


@router.patch("/knowledge-bases/{knowledge_base_id}/documents/{document_id}", response=DocumentOut)
def update_document(
    request: HttpRequest,
    knowledge_base_id: uuid.UUID,
    document_id: uuid.UUID,
    payload: DocumentUpdateIn,
):
    """Change a document's tags or metadata (used by retrieval filters at once)."""
    knowledge_base = _knowledge_base(request, knowledge_base_id, Permission.EDIT_KNOWLEDGE)
    document = selectors.document(knowledge_base, document_id)
    return services.update_document(document, **payload.model_dump(exclude_unset=True))


@router.post(
    "/knowledge-bases/{knowledge_base_id}/documents/{document_id}/reindex",
    response={202: DocumentOut},
)
def reindex_document(
    request: HttpRequest,
    knowledge_base_id: uuid.UUID,
    document_id: uuid.UUID,
    parser: Parser | None = None,
):
    """Read the document again, with ``parser`` (query: auto, text or ocr) if given."""
    knowledge_base = _knowledge_base(request, knowledge_base_id, Permission.EDIT_KNOWLEDGE)
    document = services.reindex_document(selectors.document(knowledge_base, document_id), parser)
    return Status(202, document)


@router.delete("/knowledge-bases/{knowledge_base_id}/documents/{document_id}", response={204: None})
def delete_document(request: HttpRequest, knowledge_base_id: uuid.UUID, document_id: uuid.UUID):
    knowledge_base = _knowledge_base(request, knowledge_base_id, Permission.EDIT_KNOWLEDGE)
    services.delete_document(selectors.document(knowledge_base, document_id))
    return Status(204, None)


@router.get(
    "/knowledge-bases/{knowledge_base_id}/documents/{document_id}/chunks",
    response=list[ChunkOut],
)
@paginate(Paging)
def list_chunks(request: HttpRequest, knowledge_base_id: uuid.UUID, document_id: uuid.UUID):
    knowledge_base = _knowledge_base(request, knowledge_base_id, Permission.VIEW_WORKSPACE)
    return selectors.chunks(selectors.document(knowledge_base, document_id))


# --- hit test -------------------------------------------------------------------------------


@router.post(
    "/knowledge-bases/{knowledge_base_id}/hit-test",
    response=HitTestOut,
    openapi_extra=also_answers(*GATEWAY_ERRORS),
)
def hit_test(request: HttpRequest, knowledge_base_id: uuid.UUID, payload: HitTestIn):
    """Search the knowledge base (and any others named in ``knowledge_base_ids``) the way
    an app would, with the knowledge base's retrieval settings unless overridden."""
    ctx = workspace_context(request)
    ctx.require(Permission.USE_MODELS)
    first = selectors.knowledge_base(ctx.workspace, knowledge_base_id)
    others = [
        selectors.knowledge_base(ctx.workspace, other)
        for other in payload.knowledge_base_ids
        if other != first.pk
    ]
    overrides = payload.model_dump(
        include={"mode", "top_k", "score_threshold", "rerank", "ef_search"}, exclude_none=True
    )
    options = RetrievalSettings.model_validate({**first.retrieval, **overrides})
    started = time.monotonic()
    hits = retrieve(
        ctx.workspace,
        [first, *others],
        payload.query,
        options,
        Filters(tags=tuple(payload.tags), metadata=payload.metadata),
    )
    return {
        "query": payload.query,
        "mode": options.mode,
        "took_ms": round((time.monotonic() - started) * 1000),
        "hits": [{**hit.__dict__, "page": hit.page, "section": hit.section} for hit in hits],
    }
