"""Full-text retrieval: BM25 (``bm25``) over the chunks' terms, exact, in time that grows
with the answer rather than with the number of chunks that contain a query term.

The ranking is by score, then chunk id. Two ways reach it:

- **Postings, best first** (no filters). Each knowledge base's postings of a term are
  ordered by impact (``Posting``, and ``FreshPosting`` until they are merged). Read the
  first ``depth`` postings of every (knowledge base, query term) list: each chunk seen
  gets a range for its score, from what the postings read add (low end) to that plus what
  the lists it was not seen in could still add (high end); the ``limit``-th best low end
  is the bar. A chunk not seen in any list scores at most the sum, over the lists not read
  to their end, of what their last posting read could add: once that is below the bar, no
  unseen chunk can enter; the chunks whose high end reaches the bar are then scored
  exactly, from their ``tsvector`` as the scan does, highest first, a hundred at a time,
  each batch raising the bar and dropping those that can no longer reach it; the best
  ``limit`` are the ranking. Otherwise read four times deeper. This is Fagin's "no random
  access" algorithm on impact-ordered lists: a common term is read only as deep as the
  answer needs, and only a few chunks are scored, not every chunk that contains a query
  term.
- **Scan** (tags, metadata or document filters): every matching chunk that passes the
  filters is scored, found through the GIN index. A filter can make the best chunks rare
  in the postings, so reading them would go deep; the filter narrows the scan instead.

Impacts are computed when a document is stored, with the knowledge base's average length
then (``CorpusStatistic.impact_length``). With today's average ``a`` a posting stored
with length ``r`` has a true impact of at most ``impact * max(1, a / r)`` (each term of
the denominator shrinks by at most ``r / a``) and at least ``impact * min(1, r / a)``, so
the ranges widen by that drift, taken with the smallest ``r`` stored, and stay true
however the average moves.
"""

import heapq
from collections import defaultdict
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
    """The exact top ``limit`` from the postings read best first; also how many chunks
    were scored exactly. Reading gives each chunk seen a range for its score (what the
    postings read add, within the drift, plus at most each unread list's bound); once no
    unseen chunk can reach the ``limit``-th best lower end, only the chunks whose range
    reaches it are scored exactly."""
    lists = [(str(kb), term) for kb in ids for term in scorer.idf]
    depth = max(limit, 16)
    while True:
        read = _postings(lists, depth)
        low: dict[int, float] = defaultdict(float)
        high: dict[int, float] = defaultdict(float)
        covered: dict[int, float] = defaultdict(float)  # the bounds of lists it was seen in
        unseen_bound = 0.0
        for index, (_, term) in enumerate(lists):
            postings = read.get(index, [])
            weight = bm25.most_per_term(scorer.idf[term])
            # Not read to its end: what its unread postings could still add.
            bound = weight * postings[-1][1] * drift if len(postings) == depth else 0.0
            unseen_bound += bound
            for chunk_id, impact in postings:
                low[chunk_id] += weight * impact / drift
                high[chunk_id] += weight * impact * drift
                covered[chunk_id] += bound
        bar = heapq.nlargest(limit, low.values())[-1] if len(low) >= limit else 0.0
        bar *= 1 - _ROUNDING
        if unseen_bound and unseen_bound * (1 + _ROUNDING) >= bar:
            depth *= 4
            continue
        ceiling = {
            chunk_id: value + unseen_bound - covered[chunk_id]
            for chunk_id, value in high.items()
            if value + unseen_bound - covered[chunk_id] >= bar
        }
        return _score_contenders(scorer, ceiling, low, limit)


#: Contenders scored exactly per statement, highest ceiling first.
_SCORE_BATCH = 100


def _score_contenders(
    scorer: "_Scorer", ceiling: dict[int, float], low: dict[int, float], limit: int
) -> tuple[list[tuple[int, float]], int]:
    """The exact top ``limit`` of the contenders (chunk id → the most it can score), and
    how many were scored. Highest ceilings first, a batch at a time: each batch's exact
    scores raise the bar (the ``limit``-th best of the exact scores and the low ends not
    scored yet), and contenders whose ceiling falls below it are dropped unscored."""
    waiting = sorted(ceiling, key=lambda chunk_id: -ceiling[chunk_id])
    exact: dict[int, float] = {}
    while waiting:
        batch, waiting = waiting[:_SCORE_BATCH], waiting[_SCORE_BATCH:]
        found = dict(scorer.score(chunk_ids=batch, limit=len(batch)))
        # A chunk deleted since its posting was read scores nothing.
        exact.update({chunk_id: found.get(chunk_id, -1.0) for chunk_id in batch})
        known = [*exact.values(), *(low[chunk_id] for chunk_id in waiting)]
        if len(known) >= limit:
            bar = heapq.nlargest(limit, known)[-1] * (1 - _ROUNDING)
            waiting = [chunk_id for chunk_id in waiting if ceiling[chunk_id] >= bar]
    ranked = sorted(
        ((chunk_id, score) for chunk_id, score in exact.items() if score >= 0),
        key=lambda item: (-item[1], item[0]),
    )
    return ranked[:limit], len(exact)


# Each list is a term's postings in both tables, best first (a merge moves rows from one
# to the other in one transaction, so a statement sees each posting once).
_POSTINGS = """
SELECT q.i, p.chunk_id, p.impact
FROM unnest(%s::uuid[], %s::text[]) WITH ORDINALITY AS q(knowledge_base_id, term, i)
CROSS JOIN LATERAL (SELECT knowledge_term_key(q.knowledge_base_id, q.term) AS term_key) AS k
CROSS JOIN LATERAL (
    SELECT chunk_id, impact FROM (
        (SELECT chunk_id, impact FROM knowledge_posting WHERE term_key = k.term_key
         ORDER BY impact DESC, chunk_id DESC LIMIT %s)
        UNION ALL
        (SELECT chunk_id, impact FROM knowledge_freshposting WHERE term_key = k.term_key
         ORDER BY impact DESC, chunk_id DESC LIMIT %s)
    ) AS both_tables
    ORDER BY impact DESC, chunk_id DESC
    LIMIT %s
) AS p
ORDER BY q.i, p.impact DESC, p.chunk_id DESC
"""


def _postings(lists: list[tuple[str, str]], depth: int) -> dict[int, list[tuple[int, float]]]:
    """The first ``depth`` postings of each (knowledge base, term) list, by list index."""
    read: dict[int, list[tuple[int, float]]] = {}
    with connection.cursor() as cursor:
        kbs, terms = [kb for kb, _ in lists], [term for _, term in lists]
        cursor.execute(_POSTINGS, [kbs, terms, depth, depth, depth])
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
