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
  unseen chunk can enter; the chunks whose high end reaches the bar (the contenders) are
  then scored exactly, from their ``tsvector`` as the scan does, highest first, a hundred
  at a time, each batch raising the bar and dropping those that can no longer reach it;
  the best ``limit`` are the ranking. Otherwise, or when the contenders would cost more to
  score than a deeper read (``_most_contenders``), read four times deeper: a deeper read
  narrows every range, and reading a posting costs far less than scoring a chunk. The
  postings read are summed per chunk in the database, so only the contenders come back to
  Python. This is Fagin's "no random access" algorithm on impact-ordered lists: a common
  term is read only as deep as the answer needs, and only a few chunks are scored, not
  every chunk that contains a query term.
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
        scores, scored = scorer.scan(limit)
    else:
        drift = max(1.0, totals.average_length / totals.impact_length)
        scores, scored = _best_first(scorer, ids, limit, drift)
    best_possible = sum(bm25.most_per_term(value) for value in idf.values())
    return Ranking([(cid, min(1.0, score / best_possible)) for cid, score in scores], scored)


def _best_first(
    scorer: "_Scorer", ids: list[object], limit: int, drift: float
) -> tuple[list[tuple[int, float]], int]:
    """The exact top ``limit`` from the postings read best first; also how many chunks
    were scored exactly. Each round reads the lists to ``depth`` (``_read_round``, which
    also gives the contenders); once no unseen chunk can reach the bar and the contenders
    are few, they are scored exactly; otherwise the lists are read four times deeper,
    which narrows every range (a deeper read costs less than scoring many contenders)."""
    lists = [(str(kb), term) for kb in ids for term in scorer.idf]
    weights = [bm25.most_per_term(scorer.idf[term]) for _, term in lists]
    depth = max(limit, 16)
    while True:
        most = _most_contenders(limit, depth * len(lists))
        found = _read_round(lists, weights, depth, drift, limit, most)
        if found.finished and (found.exhausted or len(found.ceiling) < most):
            return _score_contenders(scorer, found.ceiling, found.low, limit)
        depth *= 4


def _kth_best(values, k: int) -> float:
    """The ``k``-th best of ``values`` (0 when there are fewer), a little lowered against
    rounding: a bar no chunk below it can be in the top ``k`` of."""
    best = heapq.nlargest(k, values)
    return best[-1] * (1 - _ROUNDING) if len(best) == k and best[-1] > 0 else 0.0


@dataclass
class _Round:
    #: No chunk that was not read can reach the bar: the contenders are all in ``ceiling``.
    finished: bool
    #: Chunk id → the most it can score, for the contenders (none when not finished).
    ceiling: dict[int, float]
    #: Chunk id → the least it scores (what the postings read add).
    low: dict[int, float]
    #: Every list was read to its end.
    exhausted: bool


def _read_round(
    lists: list[tuple[str, str]],
    weights: list[float],
    depth: int,
    drift: float,
    limit: int,
    most: int,
) -> _Round:
    """Read the first ``depth`` postings of every list and sum them per chunk, in the
    database: only the contenders come back (when the round is finished, at most ``most``
    unless every list was read to its end), not every posting read."""
    with connection.cursor() as cursor:
        kbs, terms = [kb for kb, _ in lists], [term for _, term in lists]
        cursor.execute(
            _ROUND,
            {
                "kbs": kbs,
                "terms": terms,
                "weights": weights,
                "depth": depth,
                "drift": drift,
                "limit": limit,
                "keep": 1 - _ROUNDING,
                "most": most,
            },
        )
        rows = cursor.fetchall()
    _, _, _, finished, unseen = rows[0]
    if rows[0][0] is None:  # nothing read, or not finished
        return _Round(finished, ceiling={}, low={}, exhausted=unseen == 0)
    return _Round(
        finished=finished,
        ceiling={chunk_id: ceiling for chunk_id, ceiling, _, _, _ in rows},
        low={chunk_id: low for chunk_id, _, low, _, _ in rows},
        exhausted=unseen == 0,
    )


#: Contenders scored exactly per statement, highest ceiling first.
_SCORE_BATCH = 100


def _most_contenders(limit: int, postings_read: int) -> int:
    """How many contenders are scored rather than read deeper for: scoring a chunk from
    its ``tsvector`` costs some fifty times what reading a posting in the database does,
    and the next round reads four times the postings this one read (a deeper read narrows
    every range). The figures are ``bench/retrieval_latency.py``'s common terms."""
    return max(8 * limit, postings_read // 12)


def _score_contenders(
    scorer: "_Scorer",
    ceiling: dict[int, float],
    low: dict[int, float],
    limit: int,
) -> tuple[list[tuple[int, float]], int]:
    """The exact top ``limit`` of the contenders (chunk id → the most it can score), and
    how many were scored. Highest ceilings first, a batch at a time: each batch's exact
    scores raise the bar (the ``limit``-th best of the exact scores and the low ends not
    scored yet), and contenders whose ceiling falls below it are dropped unscored."""
    exact: dict[int, float] = {}
    waiting = sorted(ceiling, key=lambda chunk_id: -ceiling[chunk_id])
    while True:
        known = [*exact.values(), *(low[chunk_id] for chunk_id in waiting)]
        bar = _kth_best(known, limit)
        waiting = [chunk_id for chunk_id in waiting if ceiling[chunk_id] >= bar]
        if not waiting:
            break
        batch, waiting = waiting[:_SCORE_BATCH], waiting[_SCORE_BATCH:]
        found = dict(scorer.score(batch))
        # A chunk deleted since its posting was read scores nothing.
        exact.update({chunk_id: found.get(chunk_id, -1.0) for chunk_id in batch})
    ranked = sorted(
        ((chunk_id, score) for chunk_id, score in exact.items() if score >= 0),
        key=lambda item: (-item[1], item[0]),
    )
    return ranked[:limit], len(exact)


# One round of best first. ``read``: the first ``depth`` postings of each (knowledge base,
# term) list, from both tables (a merge moves rows from one to the other in one
# transaction, so a statement sees each posting once). ``bounds``: what a chunk not read in
# a list could still get from it (its last posting's impact, unless the list ended).
# ``chunks``: per chunk read, what the postings read add and the bounds of the lists it was
# read in. A chunk's range is [seen / drift, seen * drift + unseen - covered]; the bar is
# the ``limit``-th best low end. The round is finished when no unread chunk reaches the
# bar; then the contenders (ceiling at the bar or above) come back: at most ``most`` of
# them (more: read deeper) unless every list was read to its end. Always at least one row,
# for ``finished`` and ``unseen``.
_ROUND = """
WITH q AS (
    SELECT * FROM unnest(%(kbs)s::uuid[], %(terms)s::text[], %(weights)s::float8[])
        WITH ORDINALITY AS q(knowledge_base_id, term, weight, i)
),
read AS MATERIALIZED (
    SELECT q.i, q.weight, p.chunk_id, p.impact
    FROM q
    CROSS JOIN LATERAL (SELECT knowledge_term_key(q.knowledge_base_id, q.term) AS term_key) k
    CROSS JOIN LATERAL (
        SELECT chunk_id, impact FROM (
            (SELECT chunk_id, impact FROM knowledge_posting WHERE term_key = k.term_key
             ORDER BY impact DESC, chunk_id DESC LIMIT %(depth)s)
            UNION ALL
            (SELECT chunk_id, impact FROM knowledge_freshposting WHERE term_key = k.term_key
             ORDER BY impact DESC, chunk_id DESC LIMIT %(depth)s)
        ) AS both_tables
        ORDER BY impact DESC, chunk_id DESC
        LIMIT %(depth)s
    ) AS p
),
bounds AS (
    SELECT i, CASE WHEN count(*) = %(depth)s
                   THEN max(weight) * min(impact) * %(drift)s::float8 ELSE 0 END AS bound
    FROM read GROUP BY i
),
chunks AS MATERIALIZED (
    SELECT r.chunk_id, sum(r.weight * r.impact) AS seen, sum(b.bound) AS covered
    FROM read r JOIN bounds b USING (i)
    GROUP BY r.chunk_id
),
state AS (
    SELECT unseen, bar, unseen = 0 OR unseen * (2 - %(keep)s::float8) < bar AS finished
    FROM (SELECT coalesce(sum(bound), 0) AS unseen FROM bounds) AS u,
    LATERAL (
        SELECT coalesce(
            (SELECT seen FROM chunks ORDER BY seen DESC OFFSET %(limit)s - 1 LIMIT 1)
            / %(drift)s::float8 * %(keep)s::float8, 0) AS bar
    ) AS b
),
contenders AS (
    SELECT c.chunk_id, c.seen * %(drift)s::float8 + s.unseen - c.covered AS ceiling,
           c.seen / %(drift)s::float8 AS low
    FROM chunks c, state s
    WHERE s.finished AND c.seen * %(drift)s::float8 + s.unseen - c.covered >= s.bar
    LIMIT (SELECT CASE WHEN unseen = 0 THEN NULL ELSE %(most)s END FROM state)
)
SELECT c.chunk_id, c.ceiling, c.low, s.finished, s.unseen
FROM state s LEFT JOIN contenders c ON true
"""


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

    def score(self, chunk_ids: list[int]) -> list[tuple[int, float]]:
        """(chunk id, BM25) best first, of those of ``chunk_ids`` that still match."""
        return [(chunk_id, score) for chunk_id, score, _ in self._run(chunk_ids, len(chunk_ids))]

    def scan(self, limit: int) -> tuple[list[tuple[int, float]], int]:
        """The first ``limit`` (chunk id, BM25) of every chunk matching a term and the
        filters, best first, and how many matched (each of them was scored)."""
        rows = self._run(None, limit)
        return [(chunk_id, score) for chunk_id, score, _ in rows], rows[0][2] if rows else 0

    def _run(self, chunk_ids: list[int] | None, limit: int) -> list[tuple[int, float, int]]:
        terms = list(self.idf)
        where, where_params = search_filters.where(self.filters)
        only = sql.SQL("AND c.id = ANY(%s::bigint[])") if chunk_ids is not None else sql.SQL("")
        statement = sql.SQL(
            "SELECT c.id, sum(w.idf * u.tf * {k1_plus_1} / "
            "  (u.tf + {k1} * (1 - {b} + {b} * c.search_length / %s::float8))) AS score, "
            "count(*) OVER () "
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
            limit,
        ]
        with connection.cursor() as cursor:
            cursor.execute(statement, params)
            return [(chunk_id, float(score), matched) for chunk_id, score, matched in cursor]


def _tsquery(terms: list[str]) -> str:
    """Any of ``terms``, already-normalised lexemes, quoted: the tsquery matches them as
    they are."""
    return " | ".join("'" + term.replace("\\", "\\\\").replace("'", "''") + "'" for term in terms)
