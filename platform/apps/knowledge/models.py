"""Knowledge bases, their documents and the chunks retrieval searches.

Vectors of every knowledge base share one ``vector`` column of no fixed dimension, because
knowledge bases use embedding models of different sizes. Each knowledge base gets its own
expression + partial HNSW index (``apps.knowledge.vector_index``), created and dropped with
it; retrieval repeats the index's cast and predicate so that Postgres uses it.
"""

import uuid

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from pgvector.django import VectorField

from apps.accounts.models import Workspace
from apps.accounts.tenancy import Audited, Created, WorkspaceOwned
from apps.model_endpoints.models import ModelEndpoint


class RerankMode(models.TextChoices):
    """How a knowledge base's ``rerank_endpoint`` reorders what retrieval found."""

    #: A rerank model (a cross-encoder behind a rerank API) scores each passage on its own.
    POINTWISE = "pointwise", "Rerank model"
    #: A chat model reads the query and all the passages and answers their order
    #: (plugins.listwise_rerank).
    LISTWISE = "listwise", "Chat model (listwise)"


class Parser(models.TextChoices):
    """How loaders read pages that are images (``plugins.base.Parser``)."""

    #: The text layer, and OCR for pages without one or with an unreadable one.
    AUTO = "auto", "Automatic"
    TEXT = "text", "Text layer only"
    OCR = "ocr", "OCR every page"


class KnowledgeBase(WorkspaceOwned, Audited):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(
        Workspace, on_delete=models.CASCADE, related_name="knowledge_bases"
    )
    name = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    embedding_endpoint = models.ForeignKey(
        ModelEndpoint,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="Fixed after creation: every vector of the knowledge base comes from it.",
    )
    embedding_dimension = models.PositiveIntegerField()
    rerank_endpoint = models.ForeignKey(
        ModelEndpoint, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rerank_mode = models.CharField(
        max_length=16,
        choices=RerankMode.choices,
        default=RerankMode.POINTWISE,
        help_text="pointwise: rerank_endpoint is a rerank model; listwise: a chat model.",
    )
    chunking = models.JSONField(default=dict, help_text="apps.knowledge.chunking.ChunkingSettings")
    parser = models.CharField(
        max_length=8,
        choices=Parser.choices,
        default=Parser.AUTO,
        help_text="How uploads are read unless an upload says otherwise.",
    )
    retrieval = models.JSONField(
        default=dict, help_text="Default retrieval settings (apps.knowledge.retrieval)."
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="knowledge_base_name")
        ]

    def __str__(self) -> str:
        return self.name


class DocumentStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    PARSING = "parsing", "Parsing"
    CHUNKING = "chunking", "Chunking"
    EMBEDDING = "embedding", "Embedding"
    READY = "ready", "Ready"
    FAILED = "failed", "Failed"


IN_PROGRESS = (DocumentStatus.PARSING, DocumentStatus.CHUNKING, DocumentStatus.EMBEDDING)


class Document(WorkspaceOwned, Created):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    knowledge_base = models.ForeignKey(
        KnowledgeBase, on_delete=models.CASCADE, related_name="documents"
    )
    name = models.CharField(max_length=255)
    size = models.PositiveBigIntegerField()
    media_type = models.CharField(max_length=127, blank=True)
    loader = models.CharField(max_length=100, help_text="The loader plugin chosen at upload.")
    parser = models.CharField(
        max_length=8,
        choices=Parser.choices,
        default=Parser.AUTO,
        help_text="How the loader reads pages that are images (the upload's or its KB's).",
    )
    checksum = models.CharField(max_length=64, help_text="SHA-256 of the file.")
    storage_key = models.CharField(max_length=255)
    tags = ArrayField(models.CharField(max_length=64), default=list, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=DocumentStatus.choices, default=DocumentStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0, help_text="Percent, 0 to 100.")
    error = models.TextField(blank=True)
    warnings = ArrayField(
        models.TextField(),
        default=list,
        blank=True,
        help_text="What the loader could not read while the rest was kept (a page OCR failed).",
    )
    pages_done = models.PositiveIntegerField(default=0)
    pages_total = models.PositiveIntegerField(
        default=0, help_text="Pages (slides, images) the loader reported reading; 0 if none."
    )
    chunk_count = models.PositiveIntegerField(default=0)
    token_count = models.PositiveBigIntegerField(default=0)
    #: Ingestion's progress in chunks: drafted (known once the document is parsed and
    #: chunked) and embedded so far (apps.knowledge.ingestion).
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    #: When the document last had chunks embedded: slices go to the one served longest ago.
    served_at = models.DateTimeField(null=True, blank=True)
    #: Stages' durations in milliseconds: parse, chunk, embed, store.
    timings = models.JSONField(default=dict, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    #: Set when an ingestion run claims the document, with the lease it holds.
    claimed_by = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["knowledge_base", "checksum"], name="knowledge_document_checksum"
            )
        ]
        indexes = [
            models.Index(fields=["status", "queued_at"], name="knowledge_doc_queue"),
            # The ingestion queue's turns: each workspace's latest start.
            models.Index(fields=["workspace", "started_at"], name="knowledge_doc_turns"),
            # The embedding slices' turns: each workspace's latest slice.
            models.Index(fields=["workspace", "served_at"], name="knowledge_doc_served"),
        ]

    def __str__(self) -> str:
        return self.name


class Chunk(WorkspaceOwned):
    id = models.BigAutoField(primary_key=True)
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    knowledge_base = models.ForeignKey(
        KnowledgeBase, on_delete=models.CASCADE, related_name="chunks"
    )
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    token_count = models.PositiveIntegerField()
    #: page, section (heading path), row... where the text came from.
    metadata = models.JSONField(default=dict, blank=True)
    embedding = VectorField(null=True)
    #: Built from the text segmented for search (jieba for Chinese), see apps.knowledge.search_text.
    search_vector = SearchVectorField(null=True)
    #: Words in ``search_vector`` (its positions), BM25's document length.
    search_length = models.PositiveIntegerField(default=0, db_default=0)

    class Meta:
        ordering = ["document", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="knowledge_chunk_ordinal")
        ]
        indexes = [
            GinIndex(fields=["search_vector"], name="knowledge_chunk_fts"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"


class TermStatistic(models.Model):
    """In how many chunks of a knowledge base a full-text term occurs (BM25's document
    frequency), as a sum of changes: a store adds a row per term (+n), a removal a row
    (-n), and compaction folds them back to one (see apps.knowledge.term_statistics).
    Appending instead of updating one row per term is what lets two workers store
    documents of one knowledge base at the same time."""

    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="+")
    term = models.TextField()
    chunk_count = models.IntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["knowledge_base", "term"], name="knowledge_term_sum")]

    def __str__(self) -> str:
        return f"{self.term}: {self.chunk_count:+d}"


class CorpusStatistic(models.Model):
    """How many chunks of a knowledge base are indexed for full text and their length in
    words (BM25's average length), as a sum of changes like ``TermStatistic``."""

    knowledge_base = models.ForeignKey(KnowledgeBase, on_delete=models.CASCADE, related_name="+")
    chunks = models.BigIntegerField(default=0)
    words = models.BigIntegerField(default=0)
    #: The average length the change's postings' impacts were computed with (null for a
    #: removal). Retrieval's bounds use the smallest (apps.knowledge.fulltext).
    impact_length = models.FloatField(null=True)

    def __str__(self) -> str:
        return f"{self.chunks:+d} chunks, {self.words:+d} words"


class PostingFields(models.Model):
    """One term of one chunk, with the term's BM25 impact in it:
    ``tf / (tf + k1 * (1 - b + b * length / impact_length))`` (see ``CorpusStatistic``)."""

    #: The knowledge base and the term, hashed into 64 bits by the database function
    #: ``knowledge_term_key(knowledge_base_id, term)`` (migration 0002): a short key keeps
    #: the index small. Two terms sharing a key would only add candidates, which are scored
    #: exactly; the bound still covers both.
    term_key = models.BigIntegerField()
    impact = models.FloatField()
    chunk = models.ForeignKey(
        Chunk, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )

    class Meta:
        abstract = True


class Posting(PostingFields):
    """The postings full text reads best first (apps.knowledge.fulltext): the primary key
    orders a term's postings by impact. Postings go with their chunk: the database cascades
    the delete (migration 0002), so Django can delete chunks in one statement."""

    pk = models.CompositePrimaryKey("term_key", "impact", "chunk")

    def __str__(self) -> str:
        return f"{self.term_key}@{self.chunk_id}: {self.impact:.3f}"


class FreshPosting(PostingFields):
    """Postings of the latest stores, read beside ``Posting`` until a merge moves them
    there in key order (apps.knowledge.term_statistics.merge_postings): one ordered pass
    over the big index for many documents, instead of each document's terms scattered
    over all of it."""

    pk = models.CompositePrimaryKey("term_key", "impact", "chunk")

    def __str__(self) -> str:
        return f"{self.term_key}@{self.chunk_id}: {self.impact:.3f} (fresh)"


class PendingChunk(models.Model):
    """A chunk ingestion has drafted and not yet stored: its text (and the text segmented
    for full-text search), waiting for its vector. Slices of them are embedded, across
    documents, by whichever ingestion run claims them (``claimed_by`` and a lease); when
    all of a document's have vectors, they move into ``Chunk`` at once and go from here
    (apps.knowledge.ingestion)."""

    id = models.BigAutoField(primary_key=True)
    document = models.ForeignKey(Document, on_delete=models.CASCADE, related_name="+")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    #: ``search_text.segmented(text)``, computed when drafted (it runs in Python).
    search_text = models.TextField()
    token_count = models.PositiveIntegerField()
    metadata = models.JSONField(default=dict, blank=True)
    embedding = VectorField(null=True)
    claimed_by = models.CharField(max_length=64, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="knowledge_pending_once")
        ]
        indexes = [
            # What is still to embed, document by document.
            models.Index(
                fields=["document", "ordinal"],
                name="knowledge_pending_todo",
                condition=models.Q(embedding__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal} (pending)"


class EmbeddingRate(models.Model):
    """How fast an embedding endpoint has embedded ingestion's slices lately (chunks a
    second, a moving average): what a document's time left is estimated from."""

    endpoint = models.OneToOneField(
        ModelEndpoint, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    chunks_per_second = models.FloatField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.endpoint_id}: {self.chunks_per_second:.1f} chunks/s"
