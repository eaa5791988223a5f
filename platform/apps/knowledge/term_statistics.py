"""BM25's corpus statistics per knowledge base, kept exact as chunks come and go: the
number of chunks and words indexed (on the knowledge base) and, per term, the number of
chunks it occurs in (``TermStatistic``).

Every change happens inside the transaction that stores or removes a document's chunks,
with the knowledge base's row locked first: stores into one knowledge base take turns
(they are short), so term rows are never locked in two orders and cannot deadlock.
"""

from django.db import connection
from django.db.models import F

from apps.knowledge.models import KnowledgeBase


def lock(knowledge_base_id: object) -> None:
    """Take the knowledge base's row lock for the rest of the transaction."""
    KnowledgeBase.objects.select_for_update().filter(pk=knowledge_base_id).exists()


def _change(document_id: object, knowledge_base_id: object, sign: int) -> None:
    with connection.cursor() as cursor:
        if sign > 0:
            cursor.execute(
                """
                INSERT INTO knowledge_termstatistic (knowledge_base_id, term, chunk_count)
                SELECT %s, u.lexeme, count(*)
                FROM knowledge_chunk c, unnest(c.search_vector) AS u
                WHERE c.document_id = %s
                GROUP BY u.lexeme ORDER BY u.lexeme
                ON CONFLICT (knowledge_base_id, term)
                DO UPDATE SET chunk_count = knowledge_termstatistic.chunk_count
                                            + EXCLUDED.chunk_count
                """,
                [knowledge_base_id, document_id],
            )
        else:
            cursor.execute(
                """
                UPDATE knowledge_termstatistic AS t SET chunk_count = t.chunk_count - s.n
                FROM (
                    SELECT u.lexeme, count(*) AS n
                    FROM knowledge_chunk c, unnest(c.search_vector) AS u
                    WHERE c.document_id = %s
                    GROUP BY u.lexeme
                ) AS s
                WHERE t.knowledge_base_id = %s AND t.term = s.lexeme
                """,
                [document_id, knowledge_base_id],
            )
        cursor.execute(
            "SELECT count(*), coalesce(sum(search_length), 0) FROM knowledge_chunk "
            "WHERE document_id = %s",
            [document_id],
        )
        chunks, words = cursor.fetchone()
    KnowledgeBase.objects.filter(pk=knowledge_base_id).update(
        indexed_chunks=F("indexed_chunks") + sign * chunks,
        indexed_words=F("indexed_words") + sign * words,
    )


def count_document(document_id: object, knowledge_base_id: object) -> None:
    """Add the document's stored chunks to the statistics (after inserting them)."""
    _change(document_id, knowledge_base_id, +1)


def discount_document(document_id: object, knowledge_base_id: object) -> None:
    """Take the document's stored chunks out of the statistics (before deleting them)."""
    _change(document_id, knowledge_base_id, -1)
