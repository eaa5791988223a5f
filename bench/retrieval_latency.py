"""Latency and recall of the vector retrieval query at 100k and 1M chunks in one knowledge base.

One run starts its own embedded Postgres 18 + pgvector (``studio.cli.embedded``, under a
temporary directory in /tmp, removed at the end, also after a failure or Ctrl-C), points
Django at it (``studio.settings`` with DEBUG=1), migrates, and creates a workspace and a
``local`` embedding endpoint row ("bench-embed", ``--dimension`` dimensions). Then, for
each ``--sizes`` value, in a knowledge base of its own:

- data: generated vectors, unit length like the embedding models' output. By default
  (``--data mixture``) a Gaussian mixture, closer to real embeddings than uniform random
  vectors (on which HNSW recall is at its worst): one cluster ("topic") per 1000 chunks,
  whose centres have a variance decaying as 1/j over the dimensions (so topics have
  neighbouring topics), and around each centre noise with the same decaying spectrum over
  the dimensions in an order of its own, so that a topic spreads over ~25 effective
  dimensions like sentence embeddings do, not the full 384; then normalised. A chunk's
  cosine similarity to its nearest neighbour is then ~0.8, to a random chunk ~0. Queries
  are new draws from the same mixture (a question on a topic the knowledge base holds).
  ``--data uniform`` draws uniform unit vectors instead;
- load: the chunks go in with one binary ``COPY`` (psycopg's ``cursor.copy``, the
  vectors as pgvector's binary format) into the real ``knowledge_chunk`` table, with its
  constraints and B-tree / GIN indexes but without the knowledge base's HNSW index, which
  is built afterwards (much faster than inserting into an indexed table). Documents of
  500 chunks each; chunk text is a short placeholder, so rows are mostly the vector;
- index: ``vector_index.create_index`` (the platform's per-knowledge-base partial HNSW
  expression index, pgvector's default m=16, ef_construction=64) with
  ``maintenance_work_mem`` and ``max_parallel_maintenance_workers`` raised for the build;
  then ``VACUUM ANALYZE`` (not counted);
- exact search: each query through the same SQL with ``SET LOCAL enable_indexscan =
  off``, so Postgres scans and sorts every chunk: the true nearest neighbours (and the
  "exact" row of the table);
- HNSW search: for each ``--ef-search`` value, one untimed pass over the queries (to warm
  the caches), then a timed one. Each query runs as ``retrieval._vector_ranking`` runs it:
  a transaction with ``set_config('hnsw.ef_search', ..., true)`` (SET LOCAL) and
  ``hnsw.iterative_scan = relaxed_order``, then ``vector_index.nearest_sql`` with the
  query vector as a text literal, LIMIT ``--limit`` (default: the hit test's default
  ``candidates``, 50), through Django's cursor. The time is that whole transaction,
  client to client over the Unix socket (no embedding call). The plan is checked once to
  use the HNSW index (and, for the exact search, not to).

The table gives p50 / p95 latency per size and ef_search, and recall@k (``--top-k``):
the share of the exact top k found in the HNSW answer's top k (its rows sorted by
distance, as retrieval sorts them; relaxed_order may return them slightly out of order),
averaged over the queries. A second table gives the load (COPY) and index build seconds
and the sizes on disk.

Postgres runs with its defaults (those of `ministudio up`) unless ``--shared-buffers`` is
given; the client, the server and the parallel index build share the machine's cores, so
the figures include that competition.

Run from the repository root, in the project's virtual environment:

    .venv/bin/python bench/retrieval_latency.py [--sizes N ...] [--dimension D]
        [--queries N] [--ef-search N ...] [--top-k K] [--limit N] [--data mixture|uniform]
        [--maintenance-work-mem SIZE] [--build-workers N] [--shared-buffers SIZE]

On two cores 10k chunks take about a minute; the index build and the exact search grow
with the size (the 1M build at 384 dimensions may take most of an hour).
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
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from studio.cli.embedded import EmbeddedPostgres, start_postgres  # noqa: E402

#: Chunks per generated cluster ("topic") in the mixture.
CLUSTER_SIZE = 1000
#: Total noise variance around a cluster centre (the centre has norm 1): a chunk's cosine
#: similarity to its centre is then ~0.8, to another chunk of its topic ~0.65.
NOISE_VARIANCE = 0.5
CHUNKS_PER_DOCUMENT = 500
#: Every chunk's text (3 tokens): the benchmark is about the vectors.
TEXT = "bench chunk text"
SEED = 20240611


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


@dataclass
class SizeResult:
    chunks: int
    load_s: float
    build_s: float
    table_mb: float
    index_mb: float
    notices: list[str]
    rows: list[tuple[str, float, float, float | None]]  # ef_search, p50, p95, recall


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

    def load(self, knowledge_base, documents: list[uuid.UUID], vectors: np.ndarray) -> float:
        from django.db import connection, transaction
        from pgvector.psycopg import register_vector
        from psycopg import sql
        from psycopg.types.json import Jsonb

        from apps.knowledge.models import Chunk

        connection.ensure_connection()
        raw = connection.connection
        register_vector(raw)  # binary dumper for numpy arrays as `vector`
        columns = [
            "workspace_id",
            "knowledge_base_id",
            "document_id",
            "ordinal",
            "text",
            "token_count",
            "metadata",
            "embedding",
        ]
        types = ["uuid", "uuid", "uuid", "int4", "text", "int4", "jsonb", "vector"]
        statement = sql.SQL("COPY {table} ({columns}) FROM STDIN (FORMAT BINARY)").format(
            table=sql.Identifier(Chunk._meta.db_table),
            columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
        )
        workspace, kb, metadata = self.workspace.pk, knowledge_base.pk, Jsonb({})
        started = time.perf_counter()
        with transaction.atomic(), raw.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(types)
            for i, vector in enumerate(vectors):
                document, ordinal = divmod(i, CHUNKS_PER_DOCUMENT)
                row = (workspace, kb, documents[document], ordinal, TEXT, 3, metadata, vector)
                copy.write_row(row)
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
            cursor.execute("VACUUM ANALYZE knowledge_chunk")
        return elapsed, notices

    def sizes_mb(self, knowledge_base) -> tuple[float, float]:
        from django.db import connection

        from apps.knowledge import vector_index

        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_table_size('knowledge_chunk'), pg_relation_size(%s::regclass)",
                [vector_index.index_name(knowledge_base)],
            )
            table, index = cursor.fetchone()
        return table / 2**20, index / 2**20

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
            cursor.execute("TRUNCATE knowledge_chunk")
        knowledge_base.documents.all().delete()
        knowledge_base.delete()

    def run_size(self, chunks: int) -> SizeResult:
        args = self.args
        print(f"{chunks} chunks:", file=sys.stderr, flush=True)
        started = time.perf_counter()
        vectors, queries = generate(args.data, chunks, args.queries, args.dimension)
        progress(f"generated {args.data} vectors in {time.perf_counter() - started:.1f}s")
        knowledge_base, documents = self.knowledge_base(chunks)
        load_s = self.load(knowledge_base, documents, vectors)
        del vectors
        progress(f"loaded in {load_s:.1f}s; building the HNSW index...")
        build_s, notices = self.build_index(knowledge_base)
        table_mb, index_mb = self.sizes_mb(knowledge_base)
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
        self.drop(knowledge_base)
        return SizeResult(chunks, load_s, build_s, table_mb, index_mb, notices, rows)


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
        f"\n{'chunks':>9}  {'load s':>7}  {'index s':>8}  {'table MB':>9}  {'index MB':>9}"
        f"  (index: maintenance_work_mem {args.maintenance_work_mem}, "
        f"{args.build_workers} parallel workers)"
    )
    for result in results:
        print(
            f"{result.chunks:>9}  {result.load_s:>7.1f}  {result.build_s:>8.1f}  "
            f"{result.table_mb:>9.0f}  {result.index_mb:>9.0f}"
        )
        for notice in result.notices:
            print(f"{'':>9}  note: {notice}")
    header = f"recall@{args.top_k}"
    print(f"\n{'chunks':>9}  {'ef_search':>9}  {'p50 ms':>8}  {'p95 ms':>8}  {header:>10}")
    for result in results:
        for ef_search, p50, p95, value in result.rows:
            shown = "-" if value is None else f"{value:.3f}"
            print(f"{result.chunks:>9}  {ef_search:>9}  {p50:>8.2f}  {p95:>8.2f}  {shown:>10}")


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
    if args.limit is None:
        from apps.knowledge.retrieval_settings import RetrievalSettings

        args.limit = RetrievalSettings().candidates
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
