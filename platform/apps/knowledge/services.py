"""Writes of knowledge bases and documents: create, change, upload, re-index, delete.

Uploads only store the file and queue the document; parsing and embedding happen on the
``ingest`` queue (``apps.knowledge.ingestion``), never in the request.
"""

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from pydantic import ValidationError as PydanticValidationError

from apps.accounts.models import User, Workspace
from apps.knowledge import term_statistics, vector_index
from apps.knowledge.chunking import ChunkingSettings
from apps.knowledge.ingestion import dispatch
from apps.knowledge.loader_choice import choose_loader, supported_extensions
from apps.knowledge.models import (
    Document,
    DocumentStatus,
    KnowledgeBase,
    Parser,
    PendingChunk,
    RerankMode,
)
from apps.knowledge.retrieval_settings import RetrievalSettings
from apps.knowledge.storage import document_storage
from apps.model_endpoints.models import EndpointCapability, ModelEndpoint
from apps.model_endpoints.selectors import endpoints_for_workspace
from apps.plugins.plugin_settings import field_errors
from kernel.errors import ApiError, Conflict, InvalidParameter

logger = logging.getLogger(__name__)


class FileTooLarge(ApiError):
    status = 413
    code = "FileTooLarge"


def _validated(schema: type, values: dict[str, Any] | None, name: str) -> dict[str, Any]:
    try:
        return schema.model_validate(values or {}).model_dump()
    except PydanticValidationError as exc:
        raise InvalidParameter(field_errors(exc, name)) from None


def _granted(workspace: Workspace, name: str, capability: str, field: str) -> ModelEndpoint:
    endpoint = endpoints_for_workspace(workspace).filter(name=name).first()
    if endpoint is None:
        raise InvalidParameter(f"{field}: the model '{name}' is not available to this workspace.")
    if capability not in endpoint.capabilities:
        raise InvalidParameter(f"{field}: the model '{name}' is not a {capability} model.")
    return endpoint


def _reranker(workspace: Workspace, name: str, mode: str) -> ModelEndpoint:
    """The endpoint ``name`` as a reranker in ``mode``: a rerank model scores passages
    (pointwise); a chat model orders them (listwise)."""
    capability = "chat" if mode == RerankMode.LISTWISE else "rerank"
    return _granted(workspace, name, capability, "rerank_model")


def default_embedding_endpoint(workspace: Workspace) -> ModelEndpoint:
    endpoint = (
        endpoints_for_workspace(workspace)
        .filter(capabilities__contains=[EndpointCapability.EMBEDDING])
        .order_by("-is_default", "name")
        .first()
    )
    if endpoint is None:
        raise InvalidParameter(
            "embedding_model: this workspace has no embedding model; a platform admin grants one."
        )
    return endpoint


@transaction.atomic
def create_knowledge_base(
    workspace: Workspace,
    *,
    name: str,
    description: str = "",
    embedding_model: str | None = None,
    rerank_model: str | None = None,
    rerank_mode: str = RerankMode.POINTWISE,
    chunking: dict[str, Any] | None = None,
    parser: str = Parser.AUTO,
    retrieval: dict[str, Any] | None = None,
    by: User | None = None,
) -> KnowledgeBase:
    if embedding_model:
        embedding = _granted(workspace, embedding_model, "embedding", "embedding_model")
    else:
        embedding = default_embedding_endpoint(workspace)
    if not embedding.embedding_dimension:
        raise InvalidParameter(
            f"embedding_model: '{embedding.name}' has no embedding dimension set; a platform "
            "admin sets it on the endpoint."
        )
    rerank = _reranker(workspace, rerank_model, rerank_mode) if rerank_model else None
    knowledge_base = KnowledgeBase(
        workspace=workspace,
        name=name,
        description=description,
        embedding_endpoint=embedding,
        embedding_dimension=embedding.embedding_dimension,
        rerank_endpoint=rerank,
        rerank_mode=rerank_mode,
        chunking=_validated(ChunkingSettings, chunking, "chunking"),
        parser=parser,
        retrieval=_validated(RetrievalSettings, retrieval, "retrieval"),
        created_by=by,
    )
    try:
        with transaction.atomic():
            knowledge_base.save()
    except IntegrityError:
        raise Conflict(f"A knowledge base named '{name}' exists in this workspace.") from None
    vector_index.create_index(knowledge_base)
    return knowledge_base


def update_knowledge_base(knowledge_base: KnowledgeBase, **changes: Any) -> KnowledgeBase:
    """Change what may change; the embedding model may not (the vectors depend on it)."""
    if "embedding_model" in changes:
        raise InvalidParameter(
            "embedding_model: fixed after creation (every vector comes from it); create a new "
            "knowledge base to use another model."
        )
    for field in ("name", "description"):
        if field in changes:
            setattr(knowledge_base, field, changes[field])
    if "chunking" in changes:
        # Applies to documents ingested from now on, and to re-indexed ones.
        knowledge_base.chunking = _validated(ChunkingSettings, changes["chunking"], "chunking")
    if "retrieval" in changes:
        knowledge_base.retrieval = _validated(RetrievalSettings, changes["retrieval"], "retrieval")
    if changes.get("parser") is not None:
        # Applies to uploads from now on; a document keeps the parser it was read with.
        knowledge_base.parser = changes["parser"]
    if changes.get("rerank_mode") is not None:
        knowledge_base.rerank_mode = changes["rerank_mode"]
    if "rerank_model" in changes or changes.get("rerank_mode") is not None:
        # A new mode is checked against the model kept, as a new model against the mode.
        current = knowledge_base.rerank_endpoint.name if knowledge_base.rerank_endpoint else None
        name = changes.get("rerank_model", current)
        knowledge_base.rerank_endpoint = (
            _reranker(knowledge_base.workspace, name, knowledge_base.rerank_mode) if name else None
        )
    try:
        with transaction.atomic():
            knowledge_base.save()
    except IntegrityError:
        raise Conflict(f"A knowledge base named '{knowledge_base.name}' exists.") from None
    return knowledge_base


def delete_knowledge_base(knowledge_base: KnowledgeBase) -> None:
    """The knowledge base, its documents, chunks, files and vector index go."""
    keys = list(knowledge_base.documents.values_list("storage_key", flat=True))
    with transaction.atomic():
        vector_index.drop_index(knowledge_base)
        knowledge_base.delete()
    _delete_files(keys)


def _delete_files(keys: list[str]) -> None:
    storage = document_storage()
    for key in keys:
        try:
            storage.delete(key)
        except OSError as exc:  # the rows are gone; a stray file is only disk space
            logger.warning("Could not delete stored file %s: %s", key, exc)


# --- documents ------------------------------------------------------------------------------


@dataclass(frozen=True)
class UploadedFile:
    name: str
    data: bytes
    media_type: str = ""


@dataclass(frozen=True)
class UploadOutcome:
    name: str
    document: Document
    duplicate: bool


def upload_documents(
    knowledge_base: KnowledgeBase,
    files: list[UploadedFile],
    *,
    tags: list[str] | None = None,
    metadata: dict[str, Any] | None = None,
    parser: str | None = None,
    by: User | None = None,
) -> list[UploadOutcome]:
    """Store the files and queue them for ingestion. All files are checked first (size,
    type), so a bad one refuses the whole upload and nothing is stored. A file whose
    content is already in the knowledge base is reported as a duplicate of that document
    and not ingested again (re-index it to read it with another parser). ``parser``: how
    to read these files; the knowledge base's when None."""
    if not files:
        raise InvalidParameter("files: upload at least one file.")
    limit = settings.KNOWLEDGE_UPLOAD_MAX_BYTES
    loaders = supported_extensions(knowledge_base.workspace)
    choices = []
    for upload in files:
        if len(upload.data) > limit:
            raise FileTooLarge(
                f"'{upload.name}' is {len(upload.data):,} bytes; the limit is {limit:,} bytes."
            )
        choices.append(choose_loader(loaders, upload.name, upload.data))
    reading = _Reading(parser or knowledge_base.parser, tags or [], metadata or {})
    outcomes = [
        _store(knowledge_base, upload, choice.plugin_id, reading, by)
        for upload, choice in zip(files, choices, strict=True)
    ]
    queued = sum(not outcome.duplicate for outcome in outcomes)
    transaction.on_commit(lambda: dispatch(queued))
    return outcomes


@dataclass(frozen=True)
class _Reading:
    """What an upload says about all of its files."""

    parser: str
    tags: list[str]
    metadata: dict[str, Any]


def _store(
    knowledge_base: KnowledgeBase,
    upload: UploadedFile,
    loader: str,
    reading: _Reading,
    by: User | None,
) -> UploadOutcome:
    checksum = hashlib.sha256(upload.data).hexdigest()
    existing = knowledge_base.documents.filter(checksum=checksum).first()
    if existing is not None:
        return UploadOutcome(upload.name, existing, duplicate=True)
    document = Document(
        workspace=knowledge_base.workspace,
        knowledge_base=knowledge_base,
        name=upload.name[:255],
        size=len(upload.data),
        media_type=upload.media_type[:127],
        loader=loader,
        parser=reading.parser,
        checksum=checksum,
        tags=reading.tags,
        metadata=reading.metadata,
        queued_at=timezone.now(),
        created_by=by,
    )
    document.storage_key = document_storage().save(
        f"{knowledge_base.workspace_id}/{knowledge_base.pk}/{document.pk}", ContentFile(upload.data)
    )
    try:
        with transaction.atomic():
            document.save()
    except IntegrityError:  # the same content, uploaded at the same moment
        document_storage().delete(document.storage_key)
        existing = knowledge_base.documents.get(checksum=checksum)
        return UploadOutcome(upload.name, existing, duplicate=True)
    return UploadOutcome(upload.name, document, duplicate=False)


def reindex_document(document: Document, parser: str | None = None) -> Document:
    """Parse, chunk and embed the document again (after a failure, or new chunking), with
    ``parser`` if given (a scan whose text layer proved unreadable, read by OCR). Its
    chunks stay searchable until the new ones replace them; what a run had drafted of it
    goes (a slice being embedded finds its rows gone and writes nothing)."""
    with transaction.atomic():
        Document.objects.select_for_update().filter(pk=document.pk).exists()
        PendingChunk.objects.filter(document=document).delete()
        document.status = DocumentStatus.QUEUED
        document.progress = 0
        document.error = ""
        document.claimed_by = ""
        document.lease_expires_at = None
        document.chunks_done = 0
        document.chunks_total = 0
        document.served_at = None
        document.queued_at = timezone.now()
        document.parser = parser or document.parser
        document.save(
            update_fields=[
                "parser",
                "status",
                "progress",
                "error",
                "claimed_by",
                "lease_expires_at",
                "chunks_done",
                "chunks_total",
                "served_at",
                "queued_at",
            ]
        )
        transaction.on_commit(lambda: dispatch(1))
    return document


def delete_document(document: Document) -> None:
    """The document, its chunks and pending chunks go (a run still working on it finds it
    gone)."""
    key = document.storage_key
    with transaction.atomic():
        term_statistics.discount_documents([document.pk], document.knowledge_base_id)
        document.delete()
    _delete_files([key])


def update_document(document: Document, **changes: Any) -> Document:
    """New tags or metadata; retrieval filters see them at once (they are not copied
    into the chunks)."""
    if "tags" in changes and changes["tags"] is not None:
        document.tags = sorted({tag.strip() for tag in changes["tags"] if tag.strip()})
    if "metadata" in changes and changes["metadata"] is not None:
        document.metadata = changes["metadata"]
    document.save(update_fields=["tags", "metadata"])
    return document
