"""Request and response bodies of the knowledge-base endpoints."""

import uuid
from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema

from apps.knowledge.models import DocumentStatus, Parser, RerankMode

RERANK_MODEL = (
    "The reranker: a rerank model granted to the workspace (rerank_mode pointwise) or a chat "
    "model (rerank_mode listwise); null for none."
)
PARSER = (
    "How files' pages are read: auto (the text layer; OCR for pages without one or with "
    "an unreadable one, and for images), text (the text layer only), ocr (OCR every page)."
)
RERANK_MODE = (
    "pointwise: the rerank model scores each passage (score = its relevance); listwise: the "
    "chat model reads the query and the numbered passages (the first 20) and answers their "
    "order (score = rank-derived, 1 for the first down to 1/n)."
)


class KnowledgeBaseOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    embedding_model: str = Field(description="The embedding endpoint's name (fixed).")
    embedding_dimension: int
    rerank_model: str | None = Field(description=RERANK_MODEL)
    rerank_mode: RerankMode = Field(description=RERANK_MODE)
    chunking: dict[str, Any]
    parser: Parser = Field(description=PARSER + " Uploads may choose another.")
    retrieval: dict[str, Any]
    document_count: int
    chunk_count: int
    created_at: datetime
    updated_at: datetime


class KnowledgeBaseCreateIn(Schema):
    name: str = Field(min_length=1, max_length=100)
    description: str = Field(default="", max_length=2000)
    embedding_model: str | None = Field(
        default=None,
        description="An embedding model granted to the workspace; default: its default.",
    )
    rerank_model: str | None = Field(default=None, description=RERANK_MODEL)
    rerank_mode: RerankMode = Field(default=RerankMode.POINTWISE, description=RERANK_MODE)
    chunking: dict[str, Any] = Field(
        default_factory=dict,
        description="mode (auto, length, heading, regex), chunk_size and chunk_overlap in "
        "tokens, separator_regex.",
    )
    parser: Parser = Field(default=Parser.AUTO, description=PARSER)
    retrieval: dict[str, Any] = Field(
        default_factory=dict,
        description="Defaults of the hit test: mode, top_k, score_threshold, rerank, ...",
    )


class KnowledgeBaseUpdateIn(Schema):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=2000)
    rerank_model: str | None = Field(default=None, description=RERANK_MODEL)
    rerank_mode: RerankMode | None = Field(
        default=None, description=RERANK_MODE + " Unchanged when left out."
    )
    chunking: dict[str, Any] | None = None
    parser: Parser | None = Field(
        default=None, description=PARSER + " For uploads from now on; unchanged when left out."
    )
    retrieval: dict[str, Any] | None = None
    embedding_model: str | None = Field(default=None, description="Refused: fixed after creation.")


class DocumentOut(Schema):
    id: uuid.UUID
    knowledge_base_id: uuid.UUID
    name: str
    size: int
    media_type: str
    loader: str
    parser: Parser = Field(description=PARSER)
    checksum: str
    tags: list[str]
    metadata: dict[str, Any]
    status: DocumentStatus
    progress: int = Field(description="Percent, 0 to 100.")
    error: str
    warnings: list[str] = Field(
        description="What could not be read while the rest was kept (a page OCR failed on)."
    )
    pages_done: int = Field(description="Pages (slides, images) read so far while parsing.")
    pages_total: int = Field(
        description="Pages the loader reported it would read; 0 when it reports none."
    )
    chunks_done: int = Field(description="Chunks embedded so far.")
    chunks_total: int = Field(
        description="Chunks the document is cut into (0 until it has been parsed and chunked)."
    )
    seconds_left: int | None = Field(
        default=None,
        description="About how long until the document is ready, from its embedding model's "
        "measured rate and the work sharing it; null when unknown or not embedding.",
    )
    chunk_count: int
    token_count: int
    timings: dict[str, int]
    attempts: int
    queued_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    created_at: datetime


class UploadOutcomeOut(Schema):
    name: str = Field(description="The uploaded file's name.")
    duplicate: bool = Field(description="Same content as an existing document: not ingested again.")
    document: DocumentOut


class UploadOut(Schema):
    documents: list[UploadOutcomeOut]


class DocumentUpdateIn(Schema):
    tags: list[str] | None = Field(default=None, max_length=50)
    metadata: dict[str, Any] | None = None


class ChunkOut(Schema):
    id: int
    ordinal: int
    text: str
    token_count: int
    metadata: dict[str, Any]


class HitTestIn(Schema):
    query: str = Field(min_length=1, max_length=4000)
    knowledge_base_ids: list[uuid.UUID] = Field(
        default_factory=list,
        description="Search these knowledge bases together (default: the one in the path).",
    )
    mode: Literal["vector", "fulltext", "hybrid"] | None = None
    top_k: int | None = Field(default=None, ge=1, le=100)
    score_threshold: float | None = Field(default=None, ge=0, le=1)
    rerank: bool | None = None
    ef_search: int | None = Field(default=None, ge=10, le=1000)
    tags: list[str] = Field(default_factory=list, description="Documents with all these tags.")
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Documents whose metadata contains these pairs."
    )


class HitOut(Schema):
    chunk_id: int
    knowledge_base_id: str
    document_id: str
    document_name: str
    page: int | None
    section: str | None
    text: str
    metadata: dict[str, Any]
    score: float = Field(description="The last stage's score, 0 to 1.")
    scores: dict[str, float] = Field(
        description="Each stage's score: vector, fulltext, hybrid, rerank."
    )
    ranks: dict[str, int]


class HitTestOut(Schema):
    query: str
    mode: str
    took_ms: int
    hits: list[HitOut]
