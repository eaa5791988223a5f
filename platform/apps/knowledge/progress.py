"""How far a document's ingestion has come, and about how long it has left.

A document being embedded has ``chunks_done`` of ``chunks_total``. Its time left is
estimated from its embedding model's measured rate (``EmbeddingRate``, chunks a second
over recent slices) and the work that shares that model: slices go round the documents
waiting for it, so until this one is done each other document gets as many chunks as
this one still needs, or all it needs if less. Time left = the sum over those documents
(this one included) of min(their chunks left, this one's chunks left) / rate. Unknown
(None) until the document is chunked and the model has embedded a slice.
"""

from django.db.models import IntegerField, QuerySet
from django.db.models.expressions import RawSQL

from apps.accounts.tenancy import get_in_workspace
from apps.knowledge.models import Document, KnowledgeBase

_SECONDS_LEFT = """
CASE WHEN knowledge_document.status = 'embedding' AND knowledge_document.chunks_total > 0
THEN (
    SELECT ceil(
        sum(least(o.chunks_total - o.chunks_done,
                  knowledge_document.chunks_total - knowledge_document.chunks_done))
        / max(r.chunks_per_second))::integer
    FROM knowledge_document o
    JOIN knowledge_knowledgebase okb ON okb.id = o.knowledge_base_id
    JOIN knowledge_knowledgebase mine ON mine.id = knowledge_document.knowledge_base_id
         AND mine.embedding_endpoint_id = okb.embedding_endpoint_id
    JOIN knowledge_embeddingrate r ON r.endpoint_id = okb.embedding_endpoint_id
    WHERE o.status = 'embedding' AND o.chunks_total > o.chunks_done
)
END
"""


def with_seconds_left(documents: QuerySet[Document]) -> QuerySet[Document]:
    """``documents`` with ``seconds_left`` (None where unknown or not embedding)."""
    seconds_left = RawSQL(_SECONDS_LEFT, [], output_field=IntegerField())  # noqa: S611 (a constant)
    return documents.annotate(seconds_left=seconds_left)


def documents(knowledge_base: KnowledgeBase, status: str | None = None) -> QuerySet[Document]:
    found = Document.objects.in_workspace(knowledge_base.workspace).filter(
        knowledge_base=knowledge_base
    )
    return with_seconds_left(found.filter(status=status) if status else found)


def document(knowledge_base: KnowledgeBase, document_id: object) -> Document:
    return get_in_workspace(
        with_seconds_left(Document.objects.filter(knowledge_base=knowledge_base)),
        knowledge_base.workspace,
        pk=document_id,
    )
