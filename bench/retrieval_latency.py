"""Latency of the retrieval queries at 100k and 1M chunks in one knowledge base: vector
(with HNSW recall against exact search), full text (best first from postings, and the
scan it replaced) and hybrid.

One run starts its own embedded Postgres 18 + pgvector (``studio.cli.embedded``, under a
temporary directory in /tmp, removed at the end, also after a failure or Ctrl-C), points
Django at it (``studio.settings`` with DEBUG=1), migrates, and creates a workspace and a
``local`` embedding endpoint row ("bench-embed", ``--dimension`` dimensions). Then, for
each ``--sizes`` value, in a knowledge base of its own:

- vectors: generated, unit length like the embedding models' output. By default
  (``--data mixture``) a Gaussian mixture, closer to real embeddings than uniform random
  vectors (on which HNSW recall is at its worst): one cluster ("topic") per 1000 chunks,
  whose centres have a variance decaying as 1/j over the dimensions (so topics have
  neighbouring topics), and around each centre noise with the same decaying spectrum over
  the dimensions in an order of its own, so that a topic spreads over ~25 effective
  dimensions like sentence embeddings do, not the full 384; then normalised. A chunk's
  cosine similarity to its nearest neighbour is then ~0.8, to a random chunk ~0. Queries
  are new draws from the same mixture (a question on a topic the knowledge base holds).
  ``--data uniform`` draws uniform unit vectors instead;
- text: ``--words-per-chunk`` (200) words a chunk, drawn from a Zipf distribution over
  ~50 English stop words and 20,000 generated words (``bench/zipf_text.py``, as
  ``app_api.py`` generates its chunks), with a fixed seed. Text and vectors are drawn
  independently: the two stages rank different chunks, as they often do;
- load: documents of 500 chunks each. The chunks go in as ingestion stores them: one
  binary ``COPY`` (psycopg's ``cursor.copy``, the vectors as pgvector's binary format)
  into a staging table, then one ``INSERT ... SELECT`` into the real ``knowledge_chunk``
  table (its constraints and B-tree / GIN indexes, but not yet the knowledge base's HNSW
  index, built afterwards: much faster than inserting into an indexed table) computing
  the full-text columns as ingestion does (``to_tsvector``, the word count). Then,
  timed apart ("postings + statistics"), ``term_statistics.count_documents`` per
  document in a transaction of its own, as ingestion calls it after inserting a
  document's chunks: BM25's term statistics and the impact-ordered postings;
- index: ``vector_index.create_index`` (the platform's per-knowledge-base partial HNSW
  expression index, pgvector's default m=16, ef_construction=64) with
  ``maintenance_work_mem`` and ``max_parallel_maintenance_workers`` raised for the build;
  then ``VACUUM ANALYZE`` of the chunks, postings and statistics (not counted);
- exact vector search: each query through the same SQL with ``SET LOCAL
  enable_indexscan = off``, so Postgres scans and sorts every chunk: the true nearest
  neighbours (and the "exact" row of the table);
- HNSW search: for each ``--ef-search`` value, one untimed pass over the queries (to warm
  the caches), then a timed one. Each query runs as ``retrieval._vector_ranking`` runs it:
  a transaction with ``set_config('hnsw.ef_search', ..., true)`` (SET LOCAL) and
  ``hnsw.iterative_scan = relaxed_order``, then ``vector_index.nearest_sql`` with the
  query vector as a text literal, LIMIT ``--limit`` (default: the hit test's default
  ``candidates``, 50), through Django's cursor. The time is that whole transaction,
  client to client over the Unix socket (no embedding call). The plan is checked once to
  use the HNSW index (and, for the exact search, not to);
- full-text queries, ``--queries`` of each kind, 3 words each, drawn with a fixed seed
  from two pools chosen by the knowledge base's own term statistics (in how many chunks
  each word's lexeme occurs; words Postgres drops as stop words are left out):
  **common**, 3 of the 50 most frequent non-stop words; **rare**, 3 of the 200 least
  frequent words that occur at all; **mixed**, one rare and two common;
- full text, best first: one untimed pass, then a timed one, of ``fulltext.rank(
  [knowledge base], query, --limit, Filters())`` through Django's connection, as
  retrieval calls it: the query's terms, the statistics, then postings read best first
  until the threshold stops (``scored``: the chunks it scored, ``Ranking.scored``);
- full text, scan (the "before" column): the same call with ``Filters(document_ids=
  every document)``, which takes the scan path (every chunk with a query term, found
  through the GIN index, scored) and filters nothing out. Timed once, no warm-up pass,
  on the first ``--scan-queries`` queries of each kind (default: all; it is slow at
  1M). Its ``scored`` (``Ranking.scored``) is every chunk containing a query term. The exactness
  check compares, per query, best first's ranked ids with the scan's (they must be
  equal: both rank by score, then id);
- hybrid SQL: one untimed pass, then a timed one, of ``retrieval.retrieve`` in hybrid
  mode (``candidates`` = ``--limit``, ``ef_search`` = ``--hybrid-ef-search``, default
  200, top 5, no rerank) with text query i paired with vector query i, and
  ``retrieval._start_query_embeddings`` swapped (for the pass) for one that hands back
  the query vector: the time is what ``retrieve`` does without the embedding call, the
  vector SQL, the full-text ranking, the fusion (``_fuse``) and loading the hits
  (``_hits``).

The first table gives the load seconds (COPY + INSERT with the full-text columns),
postings + statistics seconds, index build seconds and the sizes on disk (the chunk
table, the HNSW index, ``knowledge_posting``'s table + its indexes). The second gives
vector p50 / p95 latency per size and ef_search, and recall@k (``--top-k``): the share of
the exact top k found in the HNSW answer's top k (its rows sorted by distance, as
retrieval sorts them; relaxed_order may return them slightly out of order), averaged over
the queries. The third, per size and query kind: the share of chunks the kind's terms
occur in, best-first p50 / p95 and mean chunks scored, the same for the scan, hybrid SQL
p50 / p95, and how many queries' best-first ranking equals the scan's; then the total of
mismatches (expected 0).

Postgres runs with its defaults (those of `ministudio up`) unless ``--shared-buffers`` is
given; the client, the server and the parallel index build share the machine's cores, so
the figures include that competition.

Run from the repository root, in the project's virtual environment:

    .venv/bin/python bench/retrieval_latency.py [--sizes N ...] [--dimension D]
        [--queries N] [--ef-search N ...] [--top-k K] [--limit N] [--data mixture|uniform]
        [--words-per-chunk N] [--scan-queries N] [--hybrid-ef-search N]
        [--maintenance-work-mem SIZE] [--build-workers N] [--shared-buffers SIZE]

On two cores 10k chunks take about two minutes, most of it the postings and statistics;
100k about half an hour. The load, the postings, the index build, the exact search and
the scan grow with the size: 1M takes hours (``--scan-queries 10`` keeps the scan short).
"""

import argparse
import contextlib
import os
import shutil
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.zipf_text import STOP_WORDS, Corpus, make_corpus  # noqa: E402
from studio.cli.embedded import EmbeddedPostgres, start_postgres  # noqa: E402

#: Chunks per generated cluster ("topic") in the mixture.
CLUSTER_SIZE = 1000
#: Total noise variance around a cluster centre (the centre has norm 1): a chunk's cosine
#: similarity to its centre is then ~0.8, to another chunk of its topic ~0.65.
NOISE_VARIANCE = 0.5
CHUNKS_PER_DOCUMENT = 500
SEED = 20240611
#: Full-text query kinds: 3 words each, drawn from the common pool, the rare pool, or one
#: rare and two common.
KINDS = ("common", "rare", "mixed")
#: The common pool: the most frequent non-stop words (by the chunks they occur in).
COMMON_POOL = 50
#: The rare pool: the least frequent words that occur at all.
RARE_POOL = 200
#: Emptied between sizes (and settled with VACUUM ANALYZE after a load).
TABLES = (
    "knowledge_chunk",
    "knowledge_posting",
    "knowledge_termstatistic",
    "knowledge_corpusstatistic",
)


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


@dataclass
class Mixture:
    centres: np.ndarray  # (clusters, dimension), unit rows
    scales: np.ndarray  # (clusters, dimension), noise standard deviation per dimension

    @classmethod
    def make(cls, rng: np.random.Generator, clusters: int, dimension: int) -> "Mixture":
        # Variance 1/j over the dimensions: most of the spread lies in a few directions,
        # as in real embeddings (an even spread would make every dimension count, the
        # hardest case for graph search). The centres too, so that topics have near
        # neighbours instead of being isolated islands.
        spectrum = 1.0 / np.arange(1, dimension + 1, dtype=np.float32)
        centres = unit(rng.standard_normal((clusters, dimension), dtype=np.float32) * spectrum**0.5)
        spectrum *= NOISE_VARIANCE / spectrum.sum()
        scales = np.sqrt(np.stack([rng.permutation(spectrum) for _ in range(clusters)]))
        return cls(centres=centres, scales=scales.astype(np.float32))

    def sample(self, rng: np.random.Generator, count: int) -> np.ndarray:
        out = np.empty((count, self.centres.shape[1]), dtype=np.float32)
        for start in range(0, count, 100_000):  # in blocks: bounded temporaries
            stop = min(count, start + 100_000)
            labels = rng.integers(0, len(self.centres), stop - start)
            noise = rng.standard_normal((stop - start, self.centres.shape[1]), dtype=np.float32)
            out[start:stop] = unit(self.centres[labels] + noise * self.scales[labels])
        return out


def unit(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def generate(data: str, count: int, queries: int, dimension: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(SEED + count)
    if data == "uniform":
        corpus = unit(rng.standard_normal((count, dimension), dtype=np.float32))
        return corpus, unit(rng.standard_normal((queries, dimension), dtype=np.float32))
    mixture = Mixture.make(rng, max(1, count // CLUSTER_SIZE), dimension)
    return mixture.sample(rng, count), mixture.sample(rng, queries)


def start_database(base: Path, shared_buffers: str | None) -> EmbeddedPostgres:
    postgres = start_postgres(base)
    if shared_buffers:
        import psycopg

        # shared_buffers takes a restart: write it to postgresql.auto.conf, stop, start.
        with psycopg.connect(postgres.url(), autocommit=True) as conn:
            conn.execute(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}'")
        postgres.stop()
        postgres = start_postgres(base)
    return postgres


def configure_django(data_dir: Path, database_url: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "studio.settings"
    os.environ["DEBUG"] = "1"
    os.environ["DATABASE_URL"] = database_url
    os.environ["REDIS_URL"] = "redis://127.0.0.1:6379/12"
    os.environ["MINISTUDIO_DATA_DIR"] = str(data_dir)
    os.environ.setdefault("MINISTUDIO_LOG_LEVEL", "WARNING")
    for name in ("CELERY_BROKER_URL", "CELERY_RESULT_BACKEND"):
        os.environ.pop(name, None)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


@dataclass
class Run:
    """One pass of the queries: latencies (ms) and the ids each query found, in order."""

    latencies: list[float]
    found: list[list[int]]
    #: Full text: the chunks each query scored (``Ranking.scored``).
    scored: list[int] = field(default_factory=list)


@dataclass
class TextRow:
    """One full-text query kind at one size."""

    kind: str
    best_first: Run
    scan: Run  # on the first ``scan_queries`` queries only
    hybrid: Run
    mismatches: int  # queries whose best-first top ids differ from the scan's
    share: tuple[float, float]  # its terms occur in this share of the chunks, least..most


@dataclass
class SizeResult:
    chunks: int
    load_s: float
    postings_s: float
    build_s: float
    table_mb: float
    index_mb: float
    postings_mb: tuple[float, float]  # knowledge_posting's table, its indexes
    notices: list[str]
    rows: list[tuple[str, float, float, float | None]]  # ef_search, p50, p95, recall
    text: list[TextRow]


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        from apps.accounts.models import Workspace
        from apps.model_endpoints.models import ModelEndpoint

        self.args = args
        self.workspace = Workspace.objects.create(name="Bench", slug="bench")
        self.endpoint = ModelEndpoint.objects.create(
            name="bench-embed",
            provider="local",
            upstream_model="multilingual-e5-small",
            capabilities=["embedding"],
            embedding_dimension=args.dimension,
        )

    def knowledge_base(self, chunks: int):
        from django.utils import timezone

        from apps.knowledge.models import Document, DocumentStatus, KnowledgeBase

        # Created directly, without create_knowledge_base's empty index: the index is
        # built after the load (vector_index.create_index, as the service calls it).
        knowledge_base = KnowledgeBase.objects.create(
            workspace=self.workspace,
            name=f"bench-{chunks}",
            embedding_endpoint=self.endpoint,
            embedding_dimension=self.args.dimension,
        )
        now = timezone.now()
        count = -(-chunks // CHUNKS_PER_DOCUMENT)
        documents = Document.objects.bulk_create(
            Document(
                workspace=self.workspace,
                knowledge_base=knowledge_base,
                name=f"document-{i}.txt",
                size=CHUNKS_PER_DOCUMENT * 1000,
                media_type="text/plain",
                loader="text",
                checksum=f"{chunks:032x}{i:032x}",
                storage_key=f"bench/{i}",
                status=DocumentStatus.READY,
                progress=100,
                chunk_count=min(CHUNKS_PER_DOCUMENT, chunks - i * CHUNKS_PER_DOCUMENT),
                queued_at=now,
            )
            for i in range(count)
        )
        return knowledge_base, [document.pk for document in documents]

    def load(
        self, knowledge_base, documents: list[uuid.UUID], vectors: np.ndarray, corpus: Corpus
    ) -> float:
        """The chunks, as ingestion stores them: COPY into a staging table, then one
        INSERT ... SELECT computing the full-text columns as ingestion does."""
        from django.db import connection, transaction
        from pgvector.psycopg import register_vector
        from psycopg import sql

        from apps.knowledge import search_text
        from apps.knowledge.models import Chunk

        connection.ensure_connection()
        raw = connection.connection
        register_vector(raw)  # binary dumper for numpy arrays as `vector`
        insert = sql.SQL(
            "INSERT INTO {chunks} (workspace_id, knowledge_base_id, document_id, ordinal, "
            "text, token_count, metadata, embedding, search_vector, search_length) "
            "SELECT %s, %s, s.document_id, s.ordinal, s.text, s.token_count, '{{}}'::jsonb, "
            "s.embedding, v.tsv, "
            "(SELECT coalesce(sum(array_length(u.positions, 1)), 0) FROM unnest(v.tsv) AS u) "
            "FROM bench_staging s "
            "CROSS JOIN LATERAL (SELECT to_tsvector({config}, s.text) AS tsv) v"
        ).format(
            chunks=sql.Identifier(Chunk._meta.db_table), config=sql.Literal(search_text.CONFIG)
        )
        words = corpus.tokens.shape[1]
        started = time.perf_counter()
        with transaction.atomic(), raw.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_staging (document_id uuid, ordinal int4, text text, "
                "token_count int4, embedding vector) ON COMMIT DROP"
            )
            with cursor.copy("COPY bench_staging FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(["uuid", "int4", "text", "int4", "vector"])
                for i, vector in enumerate(vectors):
                    document, ordinal = divmod(i, CHUNKS_PER_DOCUMENT)
                    text = search_text.segmented(corpus.text(i))
                    copy.write_row((documents[document], ordinal, text, words, vector))
            progress(f"copied in {time.perf_counter() - started:.1f}s; full-text columns...")
            cursor.execute(insert, [self.workspace.pk, knowledge_base.pk])
        return time.perf_counter() - started

    def count_documents(self, knowledge_base, documents: list[uuid.UUID]) -> float:
        """BM25's statistics and postings, per document as ingestion counts them."""
        from django.db import transaction

        from apps.knowledge import term_statistics

        started = time.perf_counter()
        for done, document_id in enumerate(documents, start=1):
            with transaction.atomic():
                term_statistics.count_documents([document_id], knowledge_base.pk)
            if done % 50 == 0 and done < len(documents):
                progress(f"  {done} documents counted, {time.perf_counter() - started:.0f}s")
        return time.perf_counter() - started

    def build_index(self, knowledge_base) -> tuple[float, list[str]]:
        from django.db import connection, transaction

        from apps.knowledge import vector_index

        notices: list[str] = []
        raw = connection.connection

        def keep(diagnostic) -> None:
            # pgvector says here when the graph outgrew maintenance_work_mem (slow build).
            notices.append(diagnostic.message_primary)

        raw.add_notice_handler(keep)
        try:
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(
                    "SELECT set_config('maintenance_work_mem', %s, true)",
                    [self.args.maintenance_work_mem],
                )
                cursor.execute(
                    "SELECT set_config('max_parallel_maintenance_workers', %s, true)",
                    [str(self.args.build_workers)],
                )
                vector_index.create_index(knowledge_base)
            elapsed = time.perf_counter() - started
        finally:
            raw.remove_notice_handler(keep)
        with connection.cursor() as cursor:
            # Statistics for the planner and a set visibility map, as a settled table has.
            for table in TABLES:
                cursor.execute(f"VACUUM ANALYZE {table}")
        return elapsed, notices

    def sizes_mb(self, knowledge_base) -> tuple[float, float, tuple[float, float]]:
        """knowledge_chunk's table, the HNSW index, knowledge_posting's table and indexes."""
        from django.db import connection

        from apps.knowledge import vector_index

        with connection.cursor() as cursor:
            # Postings: knowledge_posting, and knowledge_freshposting where there is one.
            cursor.execute(
                "SELECT pg_table_size('knowledge_chunk'), pg_relation_size(%s::regclass), "
                "(SELECT sum(pg_table_size(oid)) FROM pg_class WHERE relkind = 'r' "
                "AND relname IN ('knowledge_posting', 'knowledge_freshposting')), "
                "(SELECT sum(pg_indexes_size(oid)) FROM pg_class WHERE relkind = 'r' "
                "AND relname IN ('knowledge_posting', 'knowledge_freshposting'))",
                [vector_index.index_name(knowledge_base)],
            )
            table, index, postings, posting_indexes = (n / 2**20 for n in cursor.fetchone())
        return table, index, (postings, posting_indexes)

    def text_queries(
        self, knowledge_base, corpus: Corpus, chunks: int
    ) -> dict[str, tuple[list[str], tuple[float, float]]]:
        """Per kind, ``--queries`` queries of 3 words and the share of chunks its pool's
        terms occur in (least, most). Frequencies are the knowledge base's own term
        statistics, per word as the index holds it (a word whose stem another word shares
        stands for both; a word Postgres drops as a stop word is left out)."""
        from django.db import connection
        from psycopg import sql

        from apps.knowledge import search_text, term_statistics

        candidates = [word for word in corpus.words if word not in STOP_WORDS]
        with connection.cursor() as cursor:
            cursor.execute(
                sql.SQL(
                    "SELECT w, array(SELECT lexeme FROM unnest(to_tsvector({config}, w))) "
                    "FROM unnest(%s::text[]) AS w"
                ).format(config=sql.Literal(search_text.CONFIG)),
                [candidates],
            )
            lexemes = dict(cursor.fetchall())
        word_of: dict[str, str] = {}
        for word in candidates:
            if len(lexemes[word]) == 1:
                word_of.setdefault(lexemes[word][0], word)
        frequencies = term_statistics.document_frequencies([knowledge_base.pk], list(word_of))
        ranked = sorted(frequencies, key=lambda lexeme: (-frequencies[lexeme], lexeme))
        pools = {"common": ranked[:COMMON_POOL], "rare": ranked[-RARE_POOL:]}
        rng = np.random.default_rng(SEED + chunks + 2)

        def pick(pool: str, count: int) -> list[str]:
            chosen = rng.choice(len(pools[pool]), count, replace=False)
            return [pools[pool][int(i)] for i in chosen]

        draws = {"common": [("common", 3)], "rare": [("rare", 3)]}
        draws["mixed"] = [("rare", 1), ("common", 2)]
        out = {}
        for kind in KINDS:
            queries, shares = [], []
            for _ in range(self.args.queries):
                terms = [lexeme for pool, count in draws[kind] for lexeme in pick(pool, count)]
                queries.append(" ".join(word_of[lexeme] for lexeme in terms))
                shares.extend(frequencies[lexeme] / chunks for lexeme in terms)
            out[kind] = (queries, (min(shares), max(shares)))
        return out

    def fulltext(self, knowledge_base, queries: list[str], filters) -> Run:
        """Each query through ``fulltext.rank`` (``filters``: none for best first, every
        document for the scan)."""
        from apps.knowledge import fulltext

        run = Run(latencies=[], found=[])
        for query in queries:
            started = time.perf_counter()
            ranking = fulltext.rank([knowledge_base], query, self.args.limit, filters)
            run.latencies.append((time.perf_counter() - started) * 1000)
            run.found.append([chunk_id for chunk_id, _ in ranking.chunks])
            run.scored.append(ranking.scored)
        return run

    def hybrid(self, knowledge_base, vectors: np.ndarray, queries: list[str]) -> Run:
        """Each (vector, text) query pair through ``retrieval.retrieve`` in hybrid mode,
        with the query's embedding already there: ``_start_query_embeddings`` is swapped
        for one that hands back the vector, so the time is the vector SQL, full text,
        fusion and loading the hits, not the embedding call."""
        from apps.knowledge import retrieval
        from apps.knowledge.retrieval_settings import RetrievalSettings

        options = RetrievalSettings(
            mode="hybrid", candidates=self.args.limit, ef_search=self.args.hybrid_ef_search
        )
        run = Run(latencies=[], found=[])
        with swapped_embeddings(retrieval) as set_vector:
            for vector, query in zip(vectors, queries, strict=True):
                set_vector(vector.tolist())
                started = time.perf_counter()
                hits = retrieval.retrieve(self.workspace, [knowledge_base], query, options)
                run.latencies.append((time.perf_counter() - started) * 1000)
                run.found.append([hit.chunk_id for hit in hits])
        return run

    def search(self, knowledge_base, queries: np.ndarray, ef_search: int | None) -> Run:
        """Each query as retrieval._vector_ranking runs it; ``ef_search`` None: exact."""
        from django.db import connection, transaction
        from psycopg import sql

        from apps.knowledge import vector_index

        statement = vector_index.nearest_sql(knowledge_base, sql.SQL("TRUE"), self.args.limit)
        latencies, found = [], []
        for vector in queries:
            literal = "[" + ",".join(map(repr, vector.tolist())) + "]"
            started = time.perf_counter()
            with transaction.atomic(), connection.cursor() as cursor:
                self._settings(cursor, ef_search)
                cursor.execute(statement, [literal, literal])
                rows = cursor.fetchall()
            latencies.append((time.perf_counter() - started) * 1000)
            # As retrieval does: sorted by distance (relaxed_order may return them unsorted).
            found.append([chunk_id for chunk_id, _ in sorted(rows, key=lambda row: row[1])])
        return Run(latencies=latencies, found=found)

    @staticmethod
    def _settings(cursor, ef_search: int | None) -> None:
        if ef_search is None:
            # No index scans: the HNSW index cannot be used, Postgres computes every distance.
            cursor.execute("SELECT set_config('enable_indexscan', 'off', true)")
        else:
            cursor.execute("SELECT set_config('hnsw.ef_search', %s, true)", [str(ef_search)])
            cursor.execute("SELECT set_config('hnsw.iterative_scan', 'relaxed_order', true)")

    def check_plan(self, knowledge_base, query: np.ndarray, ef_search: int | None) -> None:
        from django.db import connection, transaction
        from psycopg import sql

        from apps.knowledge import vector_index

        statement = vector_index.nearest_sql(knowledge_base, sql.SQL("TRUE"), self.args.limit)
        literal = "[" + ",".join(map(repr, query.tolist())) + "]"
        with transaction.atomic(), connection.cursor() as cursor:
            self._settings(cursor, ef_search)
            cursor.execute(sql.SQL("EXPLAIN ") + statement, [literal, literal])
            plan = "\n".join(row[0] for row in cursor.fetchall())
        uses_index = vector_index.index_name(knowledge_base) in plan
        if uses_index != (ef_search is not None):
            kind = "HNSW" if ef_search is not None else "exact"
            raise RuntimeError(f"unexpected plan for the {kind} search:\n{plan}")

    def drop(self, knowledge_base) -> None:
        from django.db import connection

        from apps.knowledge import vector_index

        vector_index.drop_index(knowledge_base)
        with connection.cursor() as cursor:
            # Faster than deleting the rows one by one; nothing else lives in this database.
            cursor.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        knowledge_base.documents.all().delete()
        knowledge_base.delete()

    def run_size(self, chunks: int) -> SizeResult:
        args = self.args
        print(f"{chunks} chunks:", file=sys.stderr, flush=True)
        started = time.perf_counter()
        vectors, queries = generate(args.data, chunks, args.queries, args.dimension)
        progress(f"generated {args.data} vectors in {time.perf_counter() - started:.1f}s")
        started = time.perf_counter()
        corpus = make_corpus(chunks, np.random.default_rng(SEED + chunks + 1), args.words_per_chunk)
        progress(f"generated the text in {time.perf_counter() - started:.1f}s")
        knowledge_base, documents = self.knowledge_base(chunks)
        load_s = self.load(knowledge_base, documents, vectors, corpus)
        del vectors
        progress(f"loaded in {load_s:.1f}s; postings and term statistics...")
        postings_s = self.count_documents(knowledge_base, documents)
        progress(f"postings and statistics in {postings_s:.1f}s; building the HNSW index...")
        build_s, notices = self.build_index(knowledge_base)
        table_mb, index_mb, postings_mb = self.sizes_mb(knowledge_base)
        progress(f"index built in {build_s:.1f}s ({index_mb:.0f} MB); exact search...")
        self.check_plan(knowledge_base, queries[0], None)
        exact = self.search(knowledge_base, queries, None)
        rows = [("exact", *percentiles(exact.latencies), None)]
        for ef_search in args.ef_search:
            self.check_plan(knowledge_base, queries[0], ef_search)
            self.search(knowledge_base, queries, ef_search)  # warm-up, not measured
            hnsw = self.search(knowledge_base, queries, ef_search)
            rows.append((str(ef_search), *percentiles(hnsw.latencies), recall(hnsw, exact, args)))
            progress(f"ef_search {ef_search} done")
        text = self.run_text(knowledge_base, documents, corpus, chunks, queries)
        self.drop(knowledge_base)
        sizes = (table_mb, index_mb, postings_mb)
        return SizeResult(chunks, load_s, postings_s, build_s, *sizes, notices, rows, text)

    def run_text(
        self,
        knowledge_base,
        documents: list[uuid.UUID],
        corpus: Corpus,
        chunks: int,
        vectors: np.ndarray,
    ) -> list[TextRow]:
        from apps.knowledge.search_filters import Filters

        every_document = Filters(document_ids=tuple(str(pk) for pk in documents))
        scan_count = self.args.scan_queries
        rows = []
        for kind, (queries, share) in self.text_queries(knowledge_base, corpus, chunks).items():
            self.fulltext(knowledge_base, queries, Filters())  # warm-up, not measured
            best_first = self.fulltext(knowledge_base, queries, Filters())
            scan = self.fulltext(knowledge_base, queries[:scan_count], every_document)
            mismatches = sum(a != b for a, b in zip(best_first.found, scan.found, strict=False))
            self.hybrid(knowledge_base, vectors, queries)  # warm-up, not measured
            hybrid = self.hybrid(knowledge_base, vectors, queries)
            rows.append(TextRow(kind, best_first, scan, hybrid, mismatches, share))
            progress(f"full text and hybrid, {kind} terms, done")
        return rows


@contextlib.contextmanager
def swapped_embeddings(retrieval) -> Iterator:
    """Within: ``retrieval._start_query_embeddings`` hands back the vector last given to
    the function this yields, for every knowledge base, without calling a model."""
    vector: list[float] = []

    def start(knowledge_bases, query, app_id, node_id):
        return [(knowledge_bases, lambda: vector)]

    def set_vector(value: list[float]) -> None:
        vector[:] = value

    original = retrieval._start_query_embeddings
    retrieval._start_query_embeddings = start
    try:
        yield set_vector
    finally:
        retrieval._start_query_embeddings = original


def percentiles(latencies: list[float]) -> tuple[float, float]:
    p50, p95 = np.percentile(latencies, [50, 95])
    return float(p50), float(p95)


def recall(hnsw: Run, exact: Run, args: argparse.Namespace) -> float:
    k = args.top_k
    hits = [
        len(set(found[:k]) & set(truth[:k])) / min(k, len(truth))
        for found, truth in zip(hnsw.found, exact.found, strict=True)
        if truth
    ]
    return float(np.mean(hits))


def server_settings() -> dict[str, str]:
    from django.db import connection

    names = ["server_version", "shared_buffers", "work_mem", "max_parallel_workers_per_gather"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        values = {"pgvector": cursor.fetchone()[0]}
        for name in names:
            cursor.execute("SELECT current_setting(%s)", [name])
            values[name] = cursor.fetchone()[0]
    return values


def report(args: argparse.Namespace, settings: dict[str, str], results: list[SizeResult]) -> None:
    print(
        f"\nPostgres {settings['server_version']}, pgvector {settings['pgvector']}, "
        f"shared_buffers {settings['shared_buffers']}; {args.data} vectors of "
        f"{args.dimension} dimensions; {args.queries} queries, LIMIT {args.limit}; "
        f"{os.cpu_count()} cores"
    )
    print(
        f"\nload: COPY + INSERT computing the full-text columns ({args.words_per_chunk} words a "
        "chunk); postings + statistics: term_statistics.count_documents per document; "
        f"index: HNSW, maintenance_work_mem {args.maintenance_work_mem}, "
        f"{args.build_workers} parallel workers; posting MB: knowledge_posting's table + indexes"
    )
    print(
        f"{'chunks':>9}  {'load s':>7}  {'postings+stats s':>16}  {'index s':>8}  "
        f"{'table MB':>9}  {'index MB':>9}  {'posting MB':>15}"
    )
    for result in results:
        postings, posting_indexes = result.postings_mb
        print(
            f"{result.chunks:>9}  {result.load_s:>7.1f}  {result.postings_s:>16.1f}  "
            f"{result.build_s:>8.1f}  {result.table_mb:>9.0f}  {result.index_mb:>9.0f}  "
            f"{f'{postings:.0f} + {posting_indexes:.0f}':>15}"
        )
        for notice in result.notices:
            print(f"{'':>9}  note: {notice}")
    header = f"recall@{args.top_k}"
    print(f"\n{'chunks':>9}  {'ef_search':>9}  {'p50 ms':>8}  {'p95 ms':>8}  {header:>10}")
    for result in results:
        for ef_search, p50, p95, value in result.rows:
            shown = "-" if value is None else f"{value:.3f}"
            print(f"{result.chunks:>9}  {ef_search:>9}  {p50:>8.2f}  {p95:>8.2f}  {shown:>10}")
    report_text(args, results)


def report_text(args: argparse.Namespace, results: list[SizeResult]) -> None:
    scan_note = (
        "every query"
        if args.scan_queries >= args.queries
        else f"the first {args.scan_queries} of the {args.queries} queries of each kind (slow)"
    )
    print(
        f"\nFull text: fulltext.rank, LIMIT {args.limit}, best first (no filters) and as a "
        f"scan (a filter on every document, the path before postings) on {scan_note}; "
        f"hybrid SQL: retrieval.retrieve in hybrid mode with the query vector given (vector "
        f"SQL at ef_search {args.hybrid_ef_search}, full text, fusion, loading the hits), "
        f"the text query paired with a vector query. {args.queries} queries of 3 words per "
        "kind; terms: the share of chunks a term occurs in; scored: chunks scored per query "
        "(mean); exact: queries whose best-first top ids equal the scan's."
    )
    print(
        f"{'chunks':>9}  {'kind':>6}  {'terms in':>13}  {'best p50':>8}  {'p95':>7}  "
        f"{'scored':>7}  {'scan p50':>8}  {'p95':>7}  {'scored':>7}  {'hybrid p50':>10}  "
        f"{'p95':>7}  {'exact':>7}"
    )
    for result in results:
        for row in result.text:
            low, high = row.share
            terms = f"{low:.2%}-{high:.2%}"
            best, scan, hybrid = (
                percentiles(run.latencies) for run in (row.best_first, row.scan, row.hybrid)
            )
            exact = f"{len(row.scan.found) - row.mismatches}/{len(row.scan.found)}"
            print(
                f"{result.chunks:>9}  {row.kind:>6}  {terms:>13}  {best[0]:>8.2f}  "
                f"{best[1]:>7.2f}  {np.mean(row.best_first.scored):>7.0f}  {scan[0]:>8.2f}  "
                f"{scan[1]:>7.2f}  {np.mean(row.scan.scored):>7.0f}  {hybrid[0]:>10.2f}  "
                f"{hybrid[1]:>7.2f}  {exact:>7}"
            )
    mismatches = sum(row.mismatches for result in results for row in result.text)
    print(f"best-first != scan: {mismatches} queries")


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--dimension", type=int, default=384)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[40, 100, 200])
    parser.add_argument("--top-k", type=int, default=10, help="k of recall@k")
    parser.add_argument(
        "--limit",
        type=int,
        default=None,
        help="the query's LIMIT (default: the hit test's default candidates, 50)",
    )
    parser.add_argument("--data", choices=["mixture", "uniform"], default="mixture")
    parser.add_argument("--words-per-chunk", type=int, default=200)
    parser.add_argument(
        "--scan-queries",
        type=int,
        default=None,
        help="full-text queries per kind also run as a scan, the 'before' column and the "
        "exactness check (default: all of them; the scan is slow at 1M)",
    )
    parser.add_argument(
        "--hybrid-ef-search",
        type=int,
        default=None,
        help="hnsw.ef_search of the hybrid queries (default: the knowledge base default, 200)",
    )
    parser.add_argument("--maintenance-work-mem", default="4GB")
    parser.add_argument(
        "--build-workers",
        type=int,
        default=max(0, (os.cpu_count() or 1) - 1),
        help="max_parallel_maintenance_workers for the build (default: cores - 1)",
    )
    parser.add_argument(
        "--shared-buffers", default=None, help="e.g. 4GB (default: the server's, as `up` runs)"
    )
    args = parser.parse_args()
    from apps.knowledge.retrieval_settings import RetrievalSettings

    if args.limit is None:
        args.limit = RetrievalSettings().candidates
    if args.hybrid_ef_search is None:
        args.hybrid_ef_search = RetrievalSettings().ef_search
    if args.scan_queries is None:
        args.scan_queries = args.queries
    if args.limit < args.top_k:
        parser.error("--limit must be at least --top-k")
    return args


def interrupt(signum, frame) -> None:
    raise KeyboardInterrupt  # so that the finally blocks stop Postgres and remove the files


def main() -> None:
    args = arguments()
    signal.signal(signal.SIGTERM, interrupt)
    directory = Path(tempfile.mkdtemp(prefix="ministudio-retrieval-"))
    postgres = None
    try:
        data_dir = directory / "data"
        data_dir.mkdir()
        postgres = start_database(data_dir, args.shared_buffers)
        configure_django(data_dir, postgres.url())
        bench = Bench(args)
        settings = server_settings()
        results = [bench.run_size(chunks) for chunks in args.sizes]
        report(args, settings, results)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
            connections["default"].close_pool()
        if postgres is not None:
            postgres.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
