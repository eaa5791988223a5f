"""Retrieval: the chunks of one or more knowledge bases that best answer a query.

Used by the hit test (命中测试) now and by agent apps later. Stages:

- ``vector``: the query is embedded with each knowledge base's own model and searched in
  its HNSW index (``ef_search`` per query); score = cosine similarity.
- ``fulltext``: Postgres full-text search on the chunks' ``tsvector`` (Chinese segmented
  by jieba at index and query time, see ``search_text``), any query word matching, ranked
  by ``ts_rank_cd``; score = rank / (rank + 1), in 0..1.
- ``hybrid``: both, fused by reciprocal rank fusion; score = the fused value divided by
  the best possible one (first in both lists), in 0..1.
- optional rerank through the knowledge base's rerank model; score = its relevance.

Then the score threshold (on the last stage's score) and top-k. Tag and metadata filters
apply inside each stage (a chunk qualifies by its document's tags / metadata), so they
never empty a page of results after the fact. Every result carries the scores each stage
gave it.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, transaction
from psycopg import sql
from psycopg.types.json import Jsonb

from apps.accounts.models import Workspace
from apps.endpoints.models import EndpointCapability
from apps.gateway import routing
from apps.knowledge import search_text, vector_index
from apps.knowledge.models import Chunk, KnowledgeBase
from apps.knowledge.retrieval_settings import RetrievalSettings
from studio.errors import InvalidParameter


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
    knowledge_bases: list[KnowledgeBase], query: str, options: RetrievalSettings, filters: Filters
) -> list[tuple[int, float]]:
    by_model: dict[str, list[KnowledgeBase]] = defaultdict(list)
    for knowledge_base in knowledge_bases:
        by_model[knowledge_base.embedding_endpoint.name].append(knowledge_base)
    found: list[tuple[int, float]] = []
    where, where_params = _where(filters)
    for model, group in by_model.items():
        workspace = group[0].workspace
        target = routing.route(workspace, model, EndpointCapability.EMBEDDING, surface="retrieval")
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


def _fulltext_ranking(
    knowledge_bases: list[KnowledgeBase], query: str, options: RetrievalSettings, filters: Filters
) -> list[tuple[int, float]]:
    terms = search_text.query_terms(query)
    if not terms:
        return []
    where, where_params = _where(filters)
    statement = sql.SQL(
        "SELECT c.id, ts_rank_cd(c.search_vector, q.query) AS rank "
        "FROM {chunks} c JOIN knowledge_document d ON d.id = c.document_id, "
        "to_tsquery({config}, %s) AS q(query) "
        "WHERE c.knowledge_base_id = ANY(%s::uuid[]) AND c.search_vector @@ q.query AND {where} "
        "ORDER BY rank DESC, c.id LIMIT %s"
    ).format(
        chunks=sql.Identifier(Chunk._meta.db_table),
        config=sql.Literal(search_text.CONFIG),
        where=where,
    )
    # Any word may match (OR); ranking rewards the chunks that match more, and closer.
    tsquery = " | ".join(terms)
    ids = [str(kb.pk) for kb in knowledge_bases]
    with connection.cursor() as cursor:
        cursor.execute(statement, [tsquery, ids, *where_params, options.candidates])
        return [(chunk_id, float(rank) / (float(rank) + 1.0)) for chunk_id, rank in cursor]


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


def _rerank(knowledge_bases: list[KnowledgeBase], query: str, hits: list[Hit]) -> list[Hit]:
    endpoint = next((kb.rerank_endpoint for kb in knowledge_bases if kb.rerank_endpoint), None)
    if endpoint is None:
        raise InvalidParameter(
            "rerank: none of these knowledge bases has a rerank model; set rerank_model on one."
        )
    if not hits:
        return hits
    target = routing.route(
        knowledge_bases[0].workspace, endpoint.name, EndpointCapability.RERANK, surface="retrieval"
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
) -> list[Hit]:
    """The best ``options.top_k`` chunks of ``knowledge_bases`` (all in ``workspace``)."""
    if not query.strip():
        raise InvalidParameter("query: give some text to search for.")
    filters = filters or Filters()
    rankings: dict[str, list[tuple[int, float]]] = {}
    if options.mode in ("vector", "hybrid"):
        rankings["vector"] = _vector_ranking(knowledge_bases, query, options, filters)
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
        hits = _rerank(knowledge_bases, query, hits)
    if options.score_threshold is not None:
        hits = [hit for hit in hits if hit.score >= options.score_threshold]
    return hits[: options.top_k]
