"""Retrieval: the chunks of one or more knowledge bases that best answer a query.

Used by the hit test (命中测试), an app's retrieval before its first model call and the
``knowledge_search`` tool. Stages:

- ``vector``: the query is embedded with each knowledge base's own model and searched in
  its HNSW index (``ef_search`` per query); score = cosine similarity.
- ``fulltext``: BM25 over the chunks' ``tsvector`` (Chinese segmented by jieba at index
  and query time, see ``search_text``; term statistics in ``term_statistics``), any query
  term matching; score = BM25 / the most the query could score, in 0..1.
- ``hybrid``: both, fused by reciprocal rank fusion; score = the fused value divided by
  the best possible one (first in both lists), in 0..1.
- optional rerank through the knowledge base's rerank model; score = its relevance.

Then the score threshold (on the last stage's score) and top-k. Tag and metadata filters
apply inside each stage (a chunk qualifies by its document's tags / metadata), so they
never empty a page of results after the fact. Every result carries the scores each stage
gave it.
"""

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from django.db.models import Sum
from psycopg import sql
from psycopg.types.json import Jsonb

from apps.accounts.models import Workspace
from apps.gateway import routing
from apps.knowledge import search_text, vector_index
from apps.knowledge.models import Chunk, Document, KnowledgeBase, TermStatistic
from apps.knowledge.retrieval_settings import RetrievalSettings
from apps.model_endpoints.models import EndpointCapability
from kernel.errors import InvalidParameter


@dataclass
class Hit:
    chunk_id: int
    knowledge_base_id: str
    document_id: str
    document_name: str
    text: str
    metadata: dict[str, Any]
    score: float = 0.0
    scores: dict[str, float] = field(default_factory=dict)
    ranks: dict[str, int] = field(default_factory=dict)

    @property
    def page(self) -> int | None:
        return self.metadata.get("page")

    @property
    def section(self) -> str | None:
        return self.metadata.get("section")


@dataclass(frozen=True)
class Filters:
    #: The document has every one of these tags.
    tags: tuple[str, ...] = ()
    #: The document's metadata contains these key/value pairs.
    metadata: dict[str, Any] = field(default_factory=dict)
    document_ids: tuple[str, ...] = ()


def _where(filters: Filters) -> tuple[sql.Composable, list[Any]]:
    parts: list[sql.Composable] = [sql.SQL("TRUE")]
    params: list[Any] = []
    if filters.tags:
        parts.append(sql.SQL("d.tags @> %s::varchar[]"))
        params.append(list(filters.tags))
    if filters.metadata:
        parts.append(sql.SQL("d.metadata @> %s"))
        params.append(Jsonb(filters.metadata))
    if filters.document_ids:
        parts.append(sql.SQL("d.id = ANY(%s::uuid[])"))
        params.append(list(filters.document_ids))
    return sql.SQL(" AND ").join(parts), params


def _vector_ranking(
    knowledge_bases: list[KnowledgeBase],
    query: str,
    options: RetrievalSettings,
    filters: Filters,
    app_id: str | None,
    node_id: str | None = None,
) -> list[tuple[int, float]]:
    by_model: dict[str, list[KnowledgeBase]] = defaultdict(list)
    for knowledge_base in knowledge_bases:
        by_model[knowledge_base.embedding_endpoint.name].append(knowledge_base)
    found: list[tuple[int, float]] = []
    where, where_params = _where(filters)
    for model, group in by_model.items():
        workspace = group[0].workspace
        target = routing.route(
            workspace,
            model,
            EndpointCapability.EMBEDDING,
            surface="retrieval",
            app_id=app_id,
            node_id=node_id,
        )
        vector = routing.embed(target, [query], input_type="query").vectors[0]
        literal = "[" + ",".join(map(repr, vector)) + "]"
        for knowledge_base in group:
            statement = vector_index.nearest_sql(knowledge_base, where, options.candidates)
            with transaction.atomic(), connection.cursor() as cursor:
                # SET LOCAL: the breadth applies to this query's transaction only.
                cursor.execute(
                    "SELECT set_config('hnsw.ef_search', %s, true)", [str(options.ef_search)]
                )
                cursor.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")
                cursor.execute(statement, [literal, *where_params, literal])
                found.extend((chunk_id, 1.0 - float(distance)) for chunk_id, distance in cursor)
    found.sort(key=lambda item: item[1], reverse=True)
    return found[: options.candidates]


#: BM25's parameters: Anserini's defaults, those of the published BEIR BM25 baselines.
BM25_K1 = 0.9
BM25_B = 0.4


def _query_lexemes(query: str) -> list[str]:
    """The query's terms as the index holds them (segmented, lower-cased, stemmed)."""
    with connection.cursor() as cursor:
        cursor.execute(
            sql.SQL("SELECT lexeme FROM unnest(to_tsvector({config}, %s))").format(
                config=sql.Literal(search_text.CONFIG)
            ),
            [search_text.segmented(query)],
        )
        return [lexeme for (lexeme,) in cursor.fetchall()]


def _idf(
    knowledge_bases: list[KnowledgeBase], lexemes: list[str]
) -> tuple[dict[str, float], float]:
    """Each term's BM25 inverse document frequency across the knowledge bases searched,
    and their average chunk length in words."""
    ids = [kb.pk for kb in knowledge_bases]
    totals = KnowledgeBase.objects.filter(pk__in=ids).aggregate(
        chunks=Sum("indexed_chunks"), words=Sum("indexed_words")
    )
    chunks = totals["chunks"] or 0
    average_length = (totals["words"] or 0) / chunks if chunks else 1.0
    frequencies = dict(
        TermStatistic.objects.filter(knowledge_base_id__in=ids, term__in=lexemes)
        .values("term")
        .annotate(n=Sum("chunk_count"))
        .values_list("term", "n")
    )
    idf = {
        term: math.log(1 + (chunks - n + 0.5) / (n + 0.5))
        for term, n in frequencies.items()
        if n > 0
    }
    return idf, max(average_length, 1.0)


def _fulltext_ranking(
    knowledge_bases: list[KnowledgeBase], query: str, options: RetrievalSettings, filters: Filters
) -> list[tuple[int, float]]:
    """BM25 over the chunks' ``tsvector``: any query term may match (the GIN index finds
    the candidates), each scores by its frequency in the chunk, its rarity in the knowledge
    bases and the chunk's length. Score = BM25 / the most the query could score, in 0..1."""
    idf, average_length = _idf(knowledge_bases, _query_lexemes(query))
    if not idf:
        return []
    terms = list(idf)
    # Already-normalised lexemes, quoted: the tsquery matches them as they are.
    tsquery = " | ".join(
        "'" + term.replace("\\", "\\\\").replace("'", "''") + "'" for term in terms
    )
    where, where_params = _where(filters)
    # Each matching chunk's vector is cut down to the query's terms in C (mark them with
    # weight A, keep weight A) before it is unnested: unnesting every word of thousands of
    # chunks in SQL was most of a hybrid search's time (bench/app_api.py: 4x faster at 20k
    # chunks, same ranking). float8 constants: numeric arithmetic is slow.
    statement = sql.SQL(
        "SELECT c.id, sum(w.idf * u.tf * {k1_plus_1} / "
        "  (u.tf + {k1} * (1 - {b} + {b} * c.search_length / %s::float8))) AS score "
        "FROM {chunks} c JOIN {documents} d ON d.id = c.document_id "
        "CROSS JOIN LATERAL ("
        "  SELECT lexeme, coalesce(array_length(positions, 1), 1)::float8 AS tf "
        "  FROM unnest(ts_filter(setweight(setweight(c.search_vector, 'D'), 'A', %s::text[]),"
        "    '{{a}}'))) AS u "
        "JOIN unnest(%s::text[], %s::float8[]) AS w(term, idf) ON w.term = u.lexeme "
        "WHERE c.knowledge_base_id = ANY(%s::uuid[]) AND c.search_vector @@ %s::tsquery "
        "AND {where} "
        "GROUP BY c.id ORDER BY score DESC, c.id LIMIT %s"
    ).format(
        chunks=sql.Identifier(Chunk._meta.db_table),
        documents=sql.Identifier(Document._meta.db_table),
        k1=sql.SQL("{}::float8").format(sql.Literal(BM25_K1)),
        k1_plus_1=sql.SQL("{}::float8").format(sql.Literal(BM25_K1 + 1)),
        b=sql.SQL("{}::float8").format(sql.Literal(BM25_B)),
        where=where,
    )
    params = [
        average_length,
        terms,
        terms,
        [idf[term] for term in terms],
        [str(kb.pk) for kb in knowledge_bases],
        tsquery,
        *where_params,
        options.candidates,
    ]
    best_possible = sum(idf.values()) * (BM25_K1 + 1)
    with connection.cursor() as cursor:
        cursor.execute(statement, params)
        return [(chunk_id, min(1.0, float(score) / best_possible)) for chunk_id, score in cursor]


def _fuse(rankings: dict[str, list[tuple[int, float]]], k: int) -> list[tuple[int, float]]:
    fused: dict[int, float] = defaultdict(float)
    for ranking in rankings.values():
        for rank, (chunk_id, _) in enumerate(ranking, start=1):
            fused[chunk_id] += 1.0 / (k + rank)
    best = len(rankings) / (k + 1)
    return sorted(((cid, value / best) for cid, value in fused.items()), key=lambda i: -i[1])


def _hits(ids: list[int]) -> dict[int, Hit]:
    rows = (
        Chunk.objects.filter(pk__in=ids)
        .select_related("document")
        .only("id", "knowledge_base_id", "text", "metadata", "document__id", "document__name")
    )
    return {
        row.pk: Hit(
            chunk_id=row.pk,
            knowledge_base_id=str(row.knowledge_base_id),
            document_id=str(row.document_id),
            document_name=row.document.name,
            text=row.text,
            metadata=row.metadata,
        )
        for row in rows
    }


def _rerank(
    knowledge_bases: list[KnowledgeBase],
    query: str,
    hits: list[Hit],
    app_id: str | None,
    node_id: str | None = None,
) -> list[Hit]:
    endpoint = next((kb.rerank_endpoint for kb in knowledge_bases if kb.rerank_endpoint), None)
    if endpoint is None:
        raise InvalidParameter(
            "rerank: none of these knowledge bases has a rerank model; set rerank_model on one."
        )
    if not hits:
        return hits
    target = routing.route(
        knowledge_bases[0].workspace,
        endpoint.name,
        EndpointCapability.RERANK,
        surface="retrieval",
        app_id=app_id,
        node_id=node_id,
    )
    answer = routing.rerank(target, query, [hit.text for hit in hits])
    reordered = []
    for result in sorted(answer.results, key=lambda r: -r.score):
        hit = hits[result.index]
        hit.scores["rerank"] = round(float(result.score), 6)
        hit.score = float(result.score)
        reordered.append(hit)
    return reordered


def retrieve(
    workspace: Workspace,
    knowledge_bases: list[KnowledgeBase],
    query: str,
    options: RetrievalSettings,
    filters: Filters | None = None,
    *,
    app_id: str | None = None,
    node_id: str | None = None,
) -> list[Hit]:
    """The best ``options.top_k`` chunks of ``knowledge_bases`` (all in ``workspace``).
    ``app_id`` / ``node_id``: the app (and its workflow node) searching, which the model
    calls' usage is tagged with."""
    if not query.strip():
        raise InvalidParameter("query: give some text to search for.")
    filters = filters or Filters()
    rankings: dict[str, list[tuple[int, float]]] = {}
    if options.mode in ("vector", "hybrid"):
        rankings["vector"] = _vector_ranking(
            knowledge_bases, query, options, filters, app_id, node_id
        )
    if options.mode in ("fulltext", "hybrid"):
        rankings["fulltext"] = _fulltext_ranking(knowledge_bases, query, options, filters)
    if options.mode == "hybrid":
        ranked = _fuse(rankings, options.rrf_k)[: options.candidates]
        rankings["hybrid"] = ranked
    else:
        ranked = rankings[options.mode]
    hits_by_id = _hits([chunk_id for chunk_id, _ in ranked])
    for stage, ranking in rankings.items():
        for rank, (chunk_id, score) in enumerate(ranking, start=1):
            if hit := hits_by_id.get(chunk_id):
                hit.scores[stage] = round(score, 6)
                hit.ranks[stage] = rank
    hits = []
    for chunk_id, score in ranked:
        if hit := hits_by_id.get(chunk_id):  # None: deleted since it was ranked
            hit.score = score
            hits.append(hit)
    if options.rerank:
        hits = _rerank(knowledge_bases, query, hits, app_id, node_id)
    if options.score_threshold is not None:
        hits = [hit for hit in hits if hit.score >= options.score_threshold]
    return hits[: options.top_k]
