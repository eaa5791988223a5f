"""Retrieval: the chunks of one or more knowledge bases that best answer a query.

Used by the hit test (命中测试), an app's retrieval before its first model call and the
``knowledge_search`` tool. Stages:

- ``vector``: the query is embedded with each knowledge base's own model and searched in
  its HNSW index (``ef_search`` per query); score = cosine similarity.
- ``fulltext``: BM25 over the chunks' terms (Chinese segmented by jieba at index and
  query time, see ``search_text``), any query term matching, read best first from
  impact-ordered postings (``fulltext``); score = BM25 / the most the query could
  score, in 0..1.
- ``hybrid``: both, fused by reciprocal rank fusion; score = the fused value divided by
  the best possible one (first in both lists), in 0..1.
- optional rerank through the knowledge base's reranker: a rerank model (pointwise;
  score = its relevance) or a chat model that answers the passages' order (listwise,
  ``plugins.listwise_rerank``; score = 1 for the first down to 1/n for the last).

The stages run at once: the query's embedding starts first, on a thread of its own; in
hybrid mode the vector search (waiting for the embedding, then the HNSW query) runs on a
second thread with its own database connection while full text runs on the caller's
(``_start_vector_ranking``); then the hits are loaded in one query. Then the score
threshold (on the last stage's score) and top-k. Tag and metadata filters apply inside
each stage (a chunk qualifies by its document's tags / metadata, ``search_filters``), so
they never empty a page of results after the fact. Every result carries the scores each
stage gave it.
"""

import contextvars
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections, transaction

from apps.accounts.models import Workspace
from apps.gateway import routing
from apps.knowledge import fulltext, search_filters, vector_index
from apps.knowledge.models import Chunk, KnowledgeBase, RerankMode
from apps.knowledge.retrieval_settings import RetrievalSettings
from apps.knowledge.search_filters import Filters
from apps.model_endpoints.models import EndpointCapability
from kernel.errors import InvalidParameter
from plugins import listwise_rerank
from plugins.base import RerankRequest, RerankResponse

__all__ = ["Filters", "Hit", "retrieve"]


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


#: Per embedding model: its knowledge bases and the query's vector, once it has come.
_Embeddings = list[tuple[list[KnowledgeBase], Callable[[], list[float]]]]


def _start_query_embeddings(
    knowledge_bases: list[KnowledgeBase], query: str, app_id: str | None, node_id: str | None
) -> _Embeddings:
    """Start embedding the query with each knowledge base's model, on threads of their own,
    so that full text runs while the models work."""
    by_model: dict[str, list[KnowledgeBase]] = defaultdict(list)
    for knowledge_base in knowledge_bases:
        by_model[knowledge_base.embedding_endpoint.name].append(knowledge_base)
    started: _Embeddings = []
    for model, group in by_model.items():
        target = routing.route(
            group[0].workspace,
            model,
            EndpointCapability.EMBEDDING,
            surface="retrieval",
            app_id=app_id,
            node_id=node_id,
        )
        answer = routing.start_embed(target, [query], input_type="query")
        started.append((group, lambda answer=answer: answer().vectors[0]))
    return started


def _vector_ranking(
    embeddings: _Embeddings, options: RetrievalSettings, filters: Filters
) -> list[tuple[int, float]]:
    found: list[tuple[int, float]] = []
    where, where_params = search_filters.where(filters)
    for group, vector_of_query in embeddings:
        literal = "[" + ",".join(map(repr, vector_of_query())) + "]"
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


#: Vector searches running beside full text, at most this many at once per process; past
#: that a search runs on its caller's thread (it would only wait for a free one).
_VECTOR_THREADS = 8
_vector_threads = ThreadPoolExecutor(_VECTOR_THREADS, thread_name_prefix="vector-search")
_free_vector_threads = threading.BoundedSemaphore(_VECTOR_THREADS)


def _start_vector_ranking(
    embeddings: _Embeddings, options: RetrievalSettings, filters: Filters, *, beside: bool
) -> Callable[[], list[tuple[int, float]]]:
    """``_vector_ranking``, started now on a thread of its own when ``beside`` (there is
    other work to overlap it with); the returned function waits for it. It runs on the
    caller's thread, when called, inside a transaction (another connection would not see
    the transaction's rows) or when no thread is free."""
    if not beside or connection.in_atomic_block or not _free_vector_threads.acquire(False):
        return lambda: _vector_ranking(embeddings, options, filters)
    # The copied context carries the request id and the app's node for logs and usage;
    # Django's connection it does not (asgiref's Local is per thread), so the search opens
    # its own rather than sharing the caller's, which a run's threads borrow in turns.
    context = contextvars.copy_context()
    try:
        future = _vector_threads.submit(
            context.run, _vector_ranking_beside, embeddings, options, filters
        )
    except BaseException:
        _free_vector_threads.release()
        raise
    return future.result


def _vector_ranking_beside(
    embeddings: _Embeddings, options: RetrievalSettings, filters: Filters
) -> list[tuple[int, float]]:
    try:
        return _vector_ranking(embeddings, options, filters)
    finally:
        connections.close_all()  # this thread's connection goes back to the pool
        _free_vector_threads.release()


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
    chosen = next((kb for kb in knowledge_bases if kb.rerank_endpoint), None)
    if chosen is None:
        raise InvalidParameter(
            "rerank: none of these knowledge bases has a rerank model; set rerank_model on one."
        )
    if not hits:
        return hits
    listwise = chosen.rerank_mode == RerankMode.LISTWISE
    target = routing.route(
        knowledge_bases[0].workspace,
        chosen.rerank_endpoint.name,
        EndpointCapability.CHAT if listwise else EndpointCapability.RERANK,
        surface="retrieval",
        app_id=app_id,
        node_id=node_id,
    )
    documents = [hit.text for hit in hits]
    answer: RerankResponse
    if listwise:
        # The chat call goes through routing like any other, so it is admitted against the
        # quotas and metered on the retrieval surface.
        request = RerankRequest(
            model=target.endpoint.upstream_model, query=query, documents=documents
        )
        answer = listwise_rerank.rerank(request, lambda chat: routing.chat(target, chat))
    else:
        answer = routing.rerank(target, query, documents)
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
    embeddings = (
        _start_query_embeddings(knowledge_bases, query, app_id, node_id)
        if options.mode in ("vector", "hybrid")
        else []
    )
    vector_ranking = (
        _start_vector_ranking(embeddings, options, filters, beside=options.mode == "hybrid")
        if embeddings
        else None
    )
    if options.mode in ("fulltext", "hybrid"):
        rankings["fulltext"] = fulltext.rank(
            knowledge_bases, query, options.candidates, filters
        ).chunks
    if vector_ranking is not None:
        rankings = {"vector": vector_ranking(), **rankings}
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
