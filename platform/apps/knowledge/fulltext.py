"""Full-text retrieval: BM25 (``bm25``) over the chunks' terms, exact, in time that grows
with the answer rather than with the number of chunks that contain a query term.

The ranking is by score, then chunk id. Two ways reach it:

- **Postings, best first** (no filters). Each knowledge base's postings of a term are
  ordered by impact (``Posting``). Read the first ``depth`` postings of every (knowledge
  base, query term) list and score each chunk seen exactly, from its ``tsvector`` as the
  scan does; the ``limit``-th best score is the bar. A chunk not seen in any list so far
  scores at most the sum, over the lists not read to their end, of what their last
  posting read could add: if that is below the bar, no unseen chunk can enter and the
  ranking is final; otherwise read four times deeper. This is the threshold algorithm
  (Fagin et al.) on impact-ordered lists; a common term is read only as deep as the
  answer needs, not through every chunk that contains it.
- **Scan** (tags, metadata or document filters): every matching chunk that passes the
  filters is scored, found through the GIN index. A filter can make the best chunks rare
  in the postings, so reading them would go deep; the filter narrows the scan instead.

Impacts are computed when a document is stored, with the knowledge base's average length
then (``CorpusStatistic.impact_length``). With today's average ``a`` a posting stored
with length ``r`` has a true impact of at most ``impact * max(1, a / r)`` (each term of
the denominator shrinks by at most ``r / a``), so the bound multiplies by that drift with
the smallest ``r`` stored, and stays an upper bound however the average moves.
"""

from dataclasses import dataclass

from django.db import connection
from psycopg import sql

from apps.knowledge import bm25, search_filters, search_text, term_statistics
from apps.knowledge.models import Chunk, Document, KnowledgeBase
from apps.knowledge.search_filters import Filters

#: Slack for the bound against rounding: scores and bounds are summed in different orders.
_ROUNDING = 1e-9


@dataclass
class Ranking:
    #: (chunk id, score) best first; the score is BM25 over the most the query could
    #: score, in 0..1.
    chunks: list[tuple[int, float]]
    #: How many chunks were scored: the work the ranking took.
    scored: int


def query_terms(query: str) -> list[str]:
    """The query's distinct terms as the index holds them (segmented, lower-cased, stemmed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT lexeme FROM unnest(to_tsvector({config}, %s))").format(
                config=sql.Literal(search_text.CONFIG)
            ),
            [search_text.segmented(query)],
        )
        return [lexeme for (lexeme,) in cursor.fetchall()]


def rank(knowledge_bases: list[KnowledgeBase], query: str, limit: int, filters: Filters) -> Ranking:
    """The ``limit`` best chunks of ``knowledge_bases`` for ``query`` by BM25, any query
    term matching."""
    ids = [kb.pk for kb in knowledge_bases]
    totals = term_statistics.totals(ids)
    frequencies = term_statistics.document_frequencies(ids, query_terms(query))
    idf = {term: bm25.idf(n, totals.chunks) for term, n in frequencies.items()}
    if not idf:
        return Ranking([], 0)
    scorer = _Scorer(ids, idf, totals.average_length, filters)
    if filters or totals.impact_length is None:
        scores = scorer.score(limit=limit)
        scored = len(scores)
    else:
        drift = max(1.0, totals.average_length / totals.impact_length)
        scores, scored = _best_first(scorer, ids, limit, drift)
    best_possible = sum(bm25.most_per_term(value) for value in idf.values())
    return Ranking([(cid, min(1.0, score / best_possible)) for cid, score in scores], scored)


def _best_first(
    scorer: "_Scorer", ids: list[object], limit: int, drift: float
) -> tuple[list[tuple[int, float]], int]:
    lists = [(str(kb), term) for kb in ids for term in scorer.idf]
    scores: dict[int, float] = {}
    depth = max(limit, 16)
    while True:
        read = _postings(lists, depth)
        unseen_bound = 0.0
        seen: set[int] = set()
        for index, (_, term) in enumerate(lists):
            postings = read.get(index, [])
            seen.update(chunk_id for chunk_id, _ in postings)
            if len(postings) == depth:  # not read to its end
                unseen_bound += bm25.most_per_term(scorer.idf[term]) * postings[-1][1] * drift
        new = [chunk_id for chunk_id in seen if chunk_id not in scores]
        if new:
            found = dict(scorer.score(chunk_ids=new))
            # A chunk deleted since its posting was read scores nothing.
            scores.update({chunk_id: found.get(chunk_id, -1.0) for chunk_id in new})
        best = sorted(
            ((cid, score) for cid, score in scores.items() if score >= 0),
            key=lambda item: (-item[1], item[0]),
        )[:limit]
        if not unseen_bound or (
            len(best) == limit and unseen_bound * (1 + _ROUNDING) < best[-1][1]
        ):
            return best, len(scores)
        depth *= 4


_POSTINGS = """
SELECT q.i, p.chunk_id, p.impact
FROM unnest(%s::uuid[], %s::text[]) WITH ORDINALITY AS q(knowledge_base_id, term, i)
CROSS JOIN LATERAL (
    SELECT chunk_id, impact FROM knowledge_posting p
    WHERE p.knowledge_base_id = q.knowledge_base_id AND p.term = q.term
    ORDER BY p.impact DESC, p.chunk_id DESC
    LIMIT %s
) AS p
ORDER BY q.i, p.impact DESC, p.chunk_id DESC
"""


def _postings(lists: list[tuple[str, str]], depth: int) -> dict[int, list[tuple[int, float]]]:
    """The first ``depth`` postings of each (knowledge base, term) list, by list index."""
    read: dict[int, list[tuple[int, float]]] = {}
    with connection.cursor() as cursor:
        cursor.execute(_POSTINGS, [[kb for kb, _ in lists], [term for _, term in lists], depth])
        for i, chunk_id, impact in cursor:
            read.setdefault(i - 1, []).append((chunk_id, impact))
    return read


@dataclass
class _Scorer:
    """Exact BM25 scores from the chunks' ``tsvector``: each chunk's vector is cut down
    to the query's terms in C (mark them with weight A, keep weight A) before it is
    unnested, which is far cheaper than unnesting every word. float8 constants: numeric
    arithmetic is slow."""

    knowledge_base_ids: list[object]
    idf: dict[str, float]
    average_length: float
    filters: Filters

    def score(
        self, *, chunk_ids: list[int] | None = None, limit: int | None = None
    ) -> list[tuple[int, float]]:
        """(chunk id, BM25) best first: of ``chunk_ids``, or of every chunk matching a
        term and the filters (the first ``limit``)."""
        terms = list(self.idf)
        where, where_params = search_filters.where(self.filters)
        only = sql.SQL("AND c.id = ANY(%s::bigint[])") if chunk_ids is not None else sql.SQL("")
        statement = sql.SQL(
            "SELECT c.id, sum(w.idf * u.tf * {k1_plus_1} / "
            "  (u.tf + {k1} * (1 - {b} + {b} * c.search_length / %s::float8))) AS score "
            "FROM {chunks} c JOIN {documents} d ON d.id = c.document_id "
            "CROSS JOIN LATERAL ("
            "  SELECT lexeme, coalesce(array_length(positions, 1), 1)::float8 AS tf "
            "  FROM unnest(ts_filter(setweight(setweight(c.search_vector, 'D'), 'A', "
            "    %s::text[]), '{{a}}'))) AS u "
            "JOIN unnest(%s::text[], %s::float8[]) AS w(term, idf) ON w.term = u.lexeme "
            "WHERE c.knowledge_base_id = ANY(%s::uuid[]) AND c.search_vector @@ %s::tsquery "
            "{only} AND {where} "
            "GROUP BY c.id ORDER BY score DESC, c.id LIMIT %s"
        ).format(
            chunks=sql.Identifier(Chunk._meta.db_table),
            documents=sql.Identifier(Document._meta.db_table),
            k1=sql.SQL("{}::float8").format(sql.Literal(bm25.K1)),
            k1_plus_1=sql.SQL("{}::float8").format(sql.Literal(bm25.K1 + 1)),
            b=sql.SQL("{}::float8").format(sql.Literal(bm25.B)),
            only=only,
            where=where,
        )
        params = [
            self.average_length,
            terms,
            terms,
            [self.idf[term] for term in terms],
            [str(pk) for pk in self.knowledge_base_ids],
            _tsquery(terms),
            *([chunk_ids] if chunk_ids is not None else []),
            *where_params,
            limit if limit is not None else len(chunk_ids or ()),
        ]
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return [(chunk_id, float(score)) for chunk_id, score in cursor]


def _tsquery(terms: list[str]) -> str:
    """Any of ``terms``, already-normalised lexemes, quoted: the tsquery matches them as
    they are."""
    return " | ".join("'" + term.replace("\\", "\\\\").replace("'", "''") + "'" for term in terms)
