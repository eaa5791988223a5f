"""BM25's corpus statistics and postings per knowledge base, kept exact as chunks come and
go: per term, the number of chunks it occurs in (``TermStatistic``); the number of chunks
and words indexed (``CorpusStatistic``); and each chunk's terms with their impact
(``Posting``, read by ``apps.knowledge.fulltext``).

**Nothing here waits for another store.** Statistics are sums of changes: a store appends
rows (+n per term, +chunks/+words), a removal appends negative ones, and readers sum them.
Plain inserts never lock each other, so two workers store documents of one knowledge base
at the same time and both counts land. To keep the sums short, each change then
*compacts* the rows of the terms it touched into one per term, under a transaction-scoped
advisory lock that it only *tries*: a compaction already running elsewhere means this one
is skipped, never waited for. A compaction deletes only rows committed before its
statement started, and inserts their sum in the same transaction, so a concurrent change
is never lost and a reader sees the rows before or after, never half of them.

Postings are inserted with the document's chunks, into ``FreshPosting``, and deleted
with them (the database cascades a chunk's delete to its postings). Inserting each
document's terms straight into the big impact-ordered index would touch pages all over it
(one per distinct term), which at 100k chunks made storing 25 times slower; instead the
fresh postings are merged into ``Posting`` in key order once enough have gathered
(``settings.KNOWLEDGE_POSTINGS_MERGE_AT``) and by the periodic sweep, in one pass.
"""

import contextlib
from dataclasses import dataclass

import redis
from django.conf import settings
from django.db import OperationalError, connection, transaction

from apps.knowledge import bm25
from kernel.redis_connection import redis_client


@dataclass(frozen=True)
class Totals:
    """The indexed chunks and words of one or more knowledge bases."""

    chunks: int
    words: int
    #: The smallest average length any stored posting's impact was computed with.
    impact_length: float | None

    @property
    def average_length(self) -> float:
        return max(self.words / self.chunks, 1.0) if self.chunks else 1.0


def totals(knowledge_base_ids: list[object]) -> Totals:
    """The chunks and words indexed in these knowledge bases, together."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(chunks), 0), coalesce(sum(words), 0), min(impact_length) "
            "FROM knowledge_corpusstatistic WHERE knowledge_base_id = ANY(%s::uuid[])",
            [[str(pk) for pk in knowledge_base_ids]],
        )
        chunks, words, impact_length = cursor.fetchone()
    return Totals(int(chunks), int(words), impact_length)


def document_frequencies(knowledge_base_ids: list[object], terms: list[str]) -> dict[str, int]:
    """In how many chunks of these knowledge bases each of ``terms`` occurs (absent: none)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT term, sum(chunk_count) FROM knowledge_termstatistic "
            "WHERE knowledge_base_id = ANY(%s::uuid[]) AND term = ANY(%s::text[]) "
            "GROUP BY term HAVING sum(chunk_count) > 0",
            [[str(pk) for pk in knowledge_base_ids], terms],
        )
        return {term: int(count) for term, count in cursor.fetchall()}


_ADD_TERMS = """
INSERT INTO knowledge_termstatistic (knowledge_base_id, term, chunk_count)
SELECT %(kb)s, u.lexeme, %(sign)s * count(*)
FROM knowledge_chunk c, unnest(c.search_vector) AS u
WHERE c.document_id = ANY(%(documents)s::uuid[])
GROUP BY u.lexeme
RETURNING term
"""

_DOCUMENTS_SIZE = """
SELECT count(*), coalesce(sum(search_length), 0) FROM knowledge_chunk
WHERE document_id = ANY(%s::uuid[])
"""

_ADD_POSTINGS = """
INSERT INTO knowledge_freshposting (term_key, impact, chunk_id)
SELECT knowledge_term_key(c.knowledge_base_id, u.lexeme),
       t.tf / (t.tf + %(k1)s::float8 * (1 - %(b)s::float8
                                      + %(b)s::float8 * c.search_length / %(length)s::float8)),
       c.id
FROM knowledge_chunk c
CROSS JOIN LATERAL unnest(c.search_vector) AS u
CROSS JOIN LATERAL (SELECT coalesce(array_length(u.positions, 1), 1)::float8 AS tf) AS t
WHERE c.document_id = ANY(%(documents)s::uuid[])
ORDER BY 1, 2, 3
"""


def _change(document_ids: list[object], knowledge_base_id: object, sign: int) -> int:
    """Append the documents' change, in one set of statements whatever their number (a
    slice finishes many small documents at once); returns the postings it added."""
    added = 0
    documents = [str(pk) for pk in document_ids]
    with connection.cursor() as cursor:
        cursor.execute(_ADD_TERMS, {"kb": knowledge_base_id, "sign": sign, "documents": documents})
        terms = [term for (term,) in cursor.fetchall()]
        cursor.execute(_DOCUMENTS_SIZE, [documents])
        chunks, words = cursor.fetchone()
        impact_length = None
        if sign > 0 and chunks:
            # The knowledge base's average length as it stands (these documents' own for
            # the first ones): postings are ordered by impacts computed with it.
            before = totals([knowledge_base_id])
            impact_length = before.average_length if before.chunks else max(words / chunks, 1.0)
            cursor.execute(
                _ADD_POSTINGS,
                {"k1": bm25.K1, "b": bm25.B, "length": impact_length, "documents": documents},
            )
            added = cursor.rowcount
        if chunks:
            cursor.execute(
                "INSERT INTO knowledge_corpusstatistic "
                "(knowledge_base_id, chunks, words, impact_length) VALUES (%s, %s, %s, %s)",
                [knowledge_base_id, sign * chunks, sign * words, impact_length],
            )
    compact(knowledge_base_id, terms)
    return added


def count_documents(document_ids: list[object], knowledge_base_id: object) -> None:
    """Add the documents' stored chunks (all of ``knowledge_base_id``) to the statistics
    and postings (after inserting them, in the same transaction). Once it commits, the
    fresh postings are merged if enough have gathered."""
    if not document_ids:
        return
    added = _change(document_ids, knowledge_base_id, +1)
    transaction.on_commit(lambda: _gathered(added))


def discount_documents(document_ids: list[object], knowledge_base_id: object) -> None:
    """Take the documents' stored chunks (all of ``knowledge_base_id``) out of the
    statistics (before deleting them, in the same transaction; their postings go with
    them)."""
    if document_ids:
        _change(document_ids, knowledge_base_id, -1)


_COMPACT_TERMS = """
WITH gone AS (
    DELETE FROM knowledge_termstatistic
    WHERE knowledge_base_id = %(kb)s AND term = ANY(%(terms)s::text[])
    RETURNING term, chunk_count
)
INSERT INTO knowledge_termstatistic (knowledge_base_id, term, chunk_count)
SELECT %(kb)s, term, sum(chunk_count) FROM gone GROUP BY term HAVING sum(chunk_count) <> 0
"""

_COMPACT_CORPUS = """
WITH gone AS (
    DELETE FROM knowledge_corpusstatistic WHERE knowledge_base_id = %(kb)s
    RETURNING chunks, words, impact_length
)
INSERT INTO knowledge_corpusstatistic (knowledge_base_id, chunks, words, impact_length)
SELECT %(kb)s, sum(chunks), sum(words), min(impact_length) FROM gone
HAVING sum(chunks) <> 0  -- an emptied knowledge base keeps no length for bounds
"""


def compact(knowledge_base_id: object, terms: list[str]) -> bool:
    """Fold the change rows of ``terms`` (and the corpus totals) into one row each, unless
    another transaction is compacting this knowledge base. Returns whether it did."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_try_advisory_xact_lock(hashtextextended('knowledge-statistics:' || %s, 0))",
            [str(knowledge_base_id)],
        )
        if not cursor.fetchone()[0]:
            return False
        params = {"kb": knowledge_base_id, "terms": terms}
        cursor.execute(_COMPACT_TERMS, params)
        cursor.execute(_COMPACT_CORPUS, params)
    return True


_MERGE = """
WITH moved AS (DELETE FROM knowledge_freshposting RETURNING term_key, impact, chunk_id)
INSERT INTO knowledge_posting (term_key, impact, chunk_id)
SELECT term_key, impact, chunk_id FROM moved ORDER BY 1, 2, 3
"""


def merge_postings() -> int:
    """Move the fresh postings into ``Posting`` in key order, unless another merge is
    running. Returns how many moved (0 when it gave way).

    It gives way to a document being deleted meanwhile rather than wait for it (a short
    lock timeout): the delete cascades to the rows this merge holds, and waiting on each
    other would end in a deadlock that might cancel the delete instead."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_try_advisory_xact_lock(hashtextextended('knowledge-postings-merge', 0))"
            )
            if not cursor.fetchone()[0]:
                return 0
            cursor.execute("SET LOCAL lock_timeout = '200ms'")
            cursor.execute(_MERGE)
            moved = cursor.rowcount
    except OperationalError:
        return 0
    with contextlib.suppress(redis.RedisError):  # a hint only
        redis_client().set(_GATHERED_KEY, 0)
    return moved


#: Fresh postings gathered since the last merge, across processes: a hint for when to
#: merge (the sweep merges whatever it says).
_GATHERED_KEY = "ministudio:knowledge:fresh-postings"


def _gathered(added: int) -> None:
    """Count ``added`` fresh postings and merge when ``KNOWLEDGE_POSTINGS_MERGE_AT`` have
    gathered. A counter in Redis, not a count of the table: counting half a million rows
    after every store would cost more than the store."""
    try:
        due = redis_client().incrby(_GATHERED_KEY, added) >= settings.KNOWLEDGE_POSTINGS_MERGE_AT
    except redis.RedisError:
        return  # the sweep merges them
    if due:
        merge_postings()
