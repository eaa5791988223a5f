"""What a RAG agent app adds to a model call: time to first SSE event and full-answer latency
of ``POST /api/v1/apps/{app_id}/completion`` over a knowledge base of ``--chunks`` chunks.

One run starts the scripted stub model server (``tests/upstream.py``, in a thread of this
process; it answers at once, echoing the prompt back word by word, about a dozen SSE
frames) and ``ministudio up`` (a subprocess, as ``bench/gateway.py`` starts it, on a
temporary data directory under /tmp, with its own embedded Postgres and Redis on Unix
sockets: nothing touches the Redis the test suites use). This process then attaches Django
to that same data directory (its database, Redis and secret key) and, through the
platform's own services, as the ``demo`` workspace:

- registers the stub as two ``openai`` endpoints, a chat model (``bench-chat``) and an
  embedding model (``bench-embedding``, ``--dimension`` dimensions), grants both and
  creates an API key;
- creates a knowledge base on the embedding model (default retrieval settings: hybrid
  mode, top 5 of 50 candidates per stage, ef_search 200) and bulk-loads ``--chunks``
  chunks into it, in documents of 500: the text goes in with one binary ``COPY`` into a
  staging table, then one ``INSERT ... SELECT`` fills ``knowledge_chunk`` with the
  full-text columns computed as ingestion computes them (``to_tsvector``, the word count),
  then ``term_statistics.count_documents`` per document (BM25's statistics), then the HNSW
  index is built (``vector_index.create_index``) and the table analysed. Chunk text is
  200 words drawn from a Zipf distribution over ~50 English stop words and 20,000
  generated words; each chunk's vector is exactly what the stub's embedding route returns
  for that text (``tests.upstream.vector_for``: the normalised sum of one pseudo-random
  vector per word), so the query's embedding lands near the chunks that share its words;
- creates an app on ``bench-chat`` with the knowledge base attached (auto retrieval on,
  the knowledge base's hybrid mode unless ``--mode`` overrides it, show_sources on) and
  publishes it.

Prompts are questions naming three words drawn from one chunk ("What does the manual say
about a, b and c?"), a different one per request. Three paths are measured, each with
``--warmup`` unmeasured requests and then ``--requests`` measured ones, one at a time on
one persistent ``httpx.Client`` (HTTP/1.1 keep-alive), all streamed:

- ``upstream``: a streamed chat completion straight to the stub;
- ``gateway``: the same through ``/compatible-mode/v1/chat/completions`` (``bench-chat``);
- ``app``: the app through ``/api/v1/apps/{id}/completion`` with ``X-DashScope-SSE:
  enable`` and ``incremental_output: true``.

For each request: time to first event (from sending the request to reading the first
``data:`` line) and full-answer latency (to the last ``data:`` line); the table gives
their median, p95 and p99. A request that fails (non-200, an error frame, no final frame)
is counted and left out of the figures.

Then a breakdown of the app's time to first event, per request, from timestamps this
process already has (the stub runs in it, on the same clock): until the stub received the
query's embedding request (authentication, the app and its version, planning, routing),
the embedding call, from the embedding's answer until the stub received the chat request
(the vector and full-text searches and fusion, loading the hits, building the prompt,
routing), and from there to the first event (the stub's first piece and the platform
relaying it). Beside it, from the ``Run`` / ``Step`` rows the platform wrote: the median
retrieval step, model step, first-token and run latency it recorded. And once, a check
that hybrid retrieval works: how many of the top hits for one prompt both the vector and
the full-text stage found.

The platform is `ministudio up`'s single uvicorn worker (plus Postgres, Redis and, unless
``--no-worker``, the Celery worker) on the same cores as this client and the stub, so the
figures are pessimistic on a machine with few cores. The temporary data directory is
removed at the end, also after a failure or Ctrl-C.

Run from the repository root, in the project's virtual environment:

    .venv/bin/python bench/app_api.py --chunks 100000
        [--requests N] [--warmup N] [--dimension D] [--mode vector|fulltext|hybrid]
        [--no-worker] [--log-level LEVEL]
        [--up-log FILE] [--timeout SECONDS]

On two cores, loading 100k chunks takes a few minutes (most of it ``to_tsvector`` and the
HNSW build); ``--chunks 2000 --requests 50`` is a quick check that everything works.
"""

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

from bench.gateway import percentile  # noqa: E402
from bench.platform_process import UNSET, Platform, kill_leftovers  # noqa: E402
from bench.zipf_text import STOP_WORDS, WORDS_PER_CHUNK, Corpus, make_corpus  # noqa: E402
from tests.upstream import RecordedRequest, UpstreamServer  # noqa: E402

ADMIN_EMAIL = "bench@example.com"
# A throwaway instance, removed at the end.
ADMIN_PASSWORD = "bench-app-api-password-1"  # noqa: S105
CHAT_MODEL = "bench-chat"
EMBEDDING_MODEL = "bench-embedding"
UPSTREAM_CHAT = "stub-chat"
CHUNKS_PER_DOCUMENT = 500
TARGET_FIRST_EVENT_MS = 25.0
SEED = 20240611


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


# --- the corpus -----------------------------------------------------------------------------------


def chunk_vectors(corpus: Corpus, dimension: int) -> np.ndarray:
    """Each chunk's ``vector_for(text)``, computed per word once and summed with numpy."""
    per_word = np.array([_raw_vector(word, dimension) for word in corpus.words], dtype=np.float64)
    out = np.empty((len(corpus.tokens), dimension), dtype=np.float32)
    for start in range(0, len(corpus.tokens), 500):
        block = per_word[corpus.tokens[start : start + 500]].sum(axis=1)
        out[start : start + 500] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def _raw_vector(word: str, dimension: int) -> list[float]:
    """The stub's pseudo-random vector of one word, before ``vector_for`` sums a text's
    words and scales the sum to unit length."""
    digest = hashlib.shake_256(word.encode()).digest(2 * dimension)
    return [int.from_bytes(digest[2 * i : 2 * i + 2], "little") - 32767.5 for i in range(dimension)]


def prompts(corpus: Corpus, count: int, rng: np.random.Generator) -> list[str]:
    found = []
    stop = len(STOP_WORDS)
    for _ in range(count):
        row = corpus.tokens[int(rng.integers(len(corpus.tokens)))]
        content = sorted({int(i) for i in row if i >= stop})
        a, b, c = (corpus.words[i] for i in rng.choice(content, 3, replace=False))
        found.append(f"What does the manual say about {a}, {b} and {c}?")
    return found


# --- the platform ---------------------------------------------------------------------------------


def attach_django(data_dir: Path) -> None:
    """Django in this process, on `up`'s data directory: its embedded Postgres and Redis
    (the settings' defaults for a data directory) and its secret key file."""
    for name in UNSET:
        os.environ.pop(name, None)
    os.environ.update(
        DJANGO_SETTINGS_MODULE="studio.settings",
        MINISTUDIO_DATA_DIR=str(data_dir),
        MINISTUDIO_LOG_LEVEL="WARNING",
    )
    import django

    django.setup()


@dataclass
class Setup:
    app_id: str
    key: str
    knowledge_base: Any
    app: Any
    load_seconds: dict[str, float]


def set_up(stub: UpstreamServer, args: argparse.Namespace, corpus: Corpus) -> Setup:
    from apps.accounts.models import User, Workspace
    from apps.accounts.services import create_api_key
    from apps.applications import services as agents
    from apps.knowledge import vector_index
    from apps.knowledge.services import create_knowledge_base
    from apps.model_endpoints import services as endpoints

    admin = User.objects.get(email=ADMIN_EMAIL)
    demo = Workspace.objects.get(slug="demo")
    settings = {"base_url": stub.openai_base_url, "api_key": "x", "max_retries": 0}
    chat = endpoints.create_endpoint(
        name=CHAT_MODEL,
        provider="openai",
        upstream_model=UPSTREAM_CHAT,
        capabilities=["chat"],
        settings=settings,
    )
    embedding = endpoints.create_endpoint(
        name=EMBEDDING_MODEL,
        provider="openai",
        upstream_model="stub-embedding",
        capabilities=["embedding"],
        settings=settings,
        embedding_dimension=args.dimension,
    )
    endpoints.grant(chat, demo, by=admin, default=True)
    endpoints.grant(embedding, demo, by=admin, default=True)
    key = create_api_key(demo, name="bench-app-api", created_by=admin).plaintext

    knowledge_base = create_knowledge_base(
        demo, name="Bench manual", embedding_model=EMBEDDING_MODEL, by=admin
    )
    vector_index.drop_index(knowledge_base)  # built after the load, much faster
    seconds = load_chunks(knowledge_base, corpus, args)

    draft = {
        "model": CHAT_MODEL,
        "system_prompt": "You answer questions about the manual.",
        "knowledge": {
            "knowledge_base_ids": [str(knowledge_base.pk)],
            "auto_retrieve": True,
            "show_sources": True,
            "mode": args.mode,  # None: the knowledge base's own (hybrid by default)
        },
    }
    app = agents.create_app(demo, name="Bench RAG app", draft=draft, by=admin)
    agents.publish(app, notes="bench", by=admin)
    return Setup(
        app_id=str(app.pk), key=key, knowledge_base=knowledge_base, app=app, load_seconds=seconds
    )


def load_chunks(knowledge_base: Any, corpus: Corpus, args: argparse.Namespace) -> dict[str, float]:
    from django.db import connection, transaction
    from django.utils import timezone
    from pgvector.psycopg import register_vector
    from psycopg import sql

    from apps.knowledge import search_text, term_statistics, vector_index
    from apps.knowledge.models import Chunk, Document, DocumentStatus

    seconds: dict[str, float] = {}
    count = len(corpus.tokens)
    started = time.perf_counter()
    vectors = chunk_vectors(corpus, args.dimension)
    seconds["vectors"] = time.perf_counter() - started

    now = timezone.now()
    documents = Document.objects.bulk_create(
        Document(
            workspace=knowledge_base.workspace,
            knowledge_base=knowledge_base,
            name=f"manual-part-{i}.txt",
            size=CHUNKS_PER_DOCUMENT * 1500,
            media_type="text/plain",
            loader="text",
            checksum=uuid.uuid4().hex * 2,
            storage_key=f"bench/{i}",
            status=DocumentStatus.READY,
            progress=100,
            chunk_count=min(CHUNKS_PER_DOCUMENT, count - i * CHUNKS_PER_DOCUMENT),
            token_count=min(CHUNKS_PER_DOCUMENT, count - i * CHUNKS_PER_DOCUMENT) * WORDS_PER_CHUNK,
            queued_at=now,
            finished_at=now,
        )
        for i in range(-(-count // CHUNKS_PER_DOCUMENT))
    )
    document_ids = [document.pk for document in documents]

    connection.ensure_connection()
    raw = connection.connection
    register_vector(raw)  # binary dumper for numpy arrays as `vector`
    insert = sql.SQL(
        "INSERT INTO {chunks} (workspace_id, knowledge_base_id, document_id, ordinal, text, "
        "token_count, metadata, embedding, search_vector, search_length) "
        "SELECT %s, %s, s.document_id, s.ordinal, s.text, s.token_count, '{{}}'::jsonb, "
        "s.embedding, v.tsv, "
        "(SELECT coalesce(sum(array_length(u.positions, 1)), 0) FROM unnest(v.tsv) AS u) "
        "FROM bench_staging s CROSS JOIN LATERAL (SELECT to_tsvector({config}, s.text) AS tsv) v"
    ).format(chunks=sql.Identifier(Chunk._meta.db_table), config=sql.Literal(search_text.CONFIG))
    started = time.perf_counter()
    with transaction.atomic(), raw.cursor() as cursor:
        cursor.execute(
            "CREATE TEMP TABLE bench_staging (document_id uuid, ordinal int4, text text, "
            "token_count int4, embedding vector) ON COMMIT DROP"
        )
        statement = "COPY bench_staging FROM STDIN (FORMAT BINARY)"
        with cursor.copy(statement) as copy:
            copy.set_types(["uuid", "int4", "text", "int4", "vector"])
            for row in range(count):
                document, ordinal = divmod(row, CHUNKS_PER_DOCUMENT)
                text = search_text.segmented(corpus.text(row))
                copy.write_row(
                    (document_ids[document], ordinal, text, WORDS_PER_CHUNK, vectors[row])
                )
        seconds["copy"] = time.perf_counter() - started
        progress(f"copied {count} chunks in {seconds['copy']:.1f}s; computing full-text columns")
        started = time.perf_counter()
        cursor.execute(insert, [knowledge_base.workspace_id, knowledge_base.pk])
        seconds["full-text insert"] = time.perf_counter() - started
    progress(f"inserted with full-text columns in {seconds['full-text insert']:.1f}s")

    started = time.perf_counter()
    for document_id in document_ids:
        with transaction.atomic():
            term_statistics.count_documents([document_id], knowledge_base.pk)
    seconds["term statistics"] = time.perf_counter() - started
    progress(f"term statistics in {seconds['term statistics']:.1f}s; building the HNSW index")

    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT set_config('maintenance_work_mem', '1GB', true)")
        workers = str(max(0, (os.cpu_count() or 1) - 1))
        cursor.execute("SELECT set_config('max_parallel_maintenance_workers', %s, true)", [workers])
        vector_index.create_index(knowledge_base)
    seconds["HNSW index"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE knowledge_chunk")
        cursor.execute("ANALYZE knowledge_termstatistic")
    seconds["vacuum analyze"] = time.perf_counter() - started
    progress(f"index built in {seconds['HNSW index']:.1f}s")
    return seconds


def hybrid_check(setup: Setup, prompt: str) -> str:
    """How many of the top hits for ``prompt`` each stage found (in-process retrieval)."""
    from apps.applications.config import AppConfigSchema
    from apps.applications.runtime import retrieval_settings
    from apps.knowledge.models import KnowledgeBase
    from apps.knowledge.retrieval import retrieve

    knowledge_base = KnowledgeBase.objects.select_related("embedding_endpoint", "workspace").get(
        pk=setup.knowledge_base.pk
    )
    config = AppConfigSchema.model_validate(setup.app.versions.first().config)
    options = retrieval_settings(config, [knowledge_base])
    hits = retrieve(knowledge_base.workspace, [knowledge_base], prompt, options)
    both = sum(1 for hit in hits if "vector" in hit.scores and "fulltext" in hit.scores)
    vector = sum(1 for hit in hits if "vector" in hit.scores)
    fulltext = sum(1 for hit in hits if "fulltext" in hit.scores)
    return (
        f"mode {options.mode}: of the top {len(hits)} hits, {vector} from the vector stage, "
        f"{fulltext} from the full-text stage, {both} from both"
    )


# --- the load -------------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    url: str
    headers: dict[str, str]
    body: Callable[[str], dict]


@dataclass
class Sample:
    first_event: float  # seconds from sending to the first data: line
    last_event: float  # seconds from sending to the last data: line
    first_text: float  # seconds from sending to the first frame with answer text
    frames: int
    sent_at: float  # time.monotonic() when sent (the stub's clock)
    upstream: list[RecordedRequest] = field(default_factory=list)


@dataclass
class Phase:
    samples: list[Sample] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""
    last_frame: dict | None = None
    since: Any = None  # when the measured requests began (timezone.now())


def one_request(client: httpx.Client, target: Target, prompt: str) -> tuple[Sample, str]:
    """One streamed call; the sample and its last data line. Raises when it failed."""
    body = json.dumps(target.body(prompt)).encode()
    headers = {"Content-Type": "application/json", **target.headers}
    sent_at = time.monotonic()
    started = time.perf_counter()
    first = last = first_text = None
    frames = 0
    last_data = ""
    with client.stream("POST", target.url, content=body, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"{response.status_code} {response.read()[:300]!r}")
        for line in response.iter_lines():
            if line.startswith("event:error"):
                raise RuntimeError(f"error frame after {frames} frames")
            if not line.startswith("data:"):
                continue
            now = time.perf_counter() - started
            if first is None:
                first = now
            last = now
            frames += 1
            last_data = line[len("data:") :].strip()
            if first_text is None and has_text(last_data):
                first_text = now
    if first is None or last is None or first_text is None:
        raise RuntimeError(f"no data frame with text in {frames} frames")
    return Sample(first, last, first_text, frames, sent_at), last_data


def has_text(data: str) -> bool:
    """Whether a frame carries answer text (an OpenAI chunk's delta, the app's output)."""
    if data == "[DONE]":
        return False
    frame = json.loads(data)
    if "output" in frame:
        return bool(frame["output"].get("text"))
    return any((choice.get("delta") or {}).get("content") for choice in frame.get("choices", []))


def check_end(target: str, last_data: str) -> dict | None:
    """The stream ended as it should: [DONE] (OpenAI), finish_reason stop (the app)."""
    if target != "app":
        if last_data != "[DONE]":
            raise RuntimeError(f"stream ended without [DONE]: {last_data[:200]!r}")
        return None
    frame = json.loads(last_data)
    if frame["output"].get("finish_reason") != "stop":
        raise RuntimeError(f"last frame is not the final one: {last_data[:300]!r}")
    return frame


def run_phase(
    client: httpx.Client,
    target: Target,
    stub: UpstreamServer,
    prompts_: list[str],
    warmup: int,
) -> Phase:
    from django.utils import timezone

    phase = Phase()
    for index, prompt in enumerate(prompts_):
        record = index >= warmup
        if index == warmup:
            phase.since = timezone.now()
        stub.reset()
        try:
            sample, last_data = one_request(client, target, prompt)
            frame = check_end(target.name, last_data)
        except Exception as exc:  # counted, and the first one is shown
            if record:
                phase.errors += 1
                phase.first_error = phase.first_error or f"{type(exc).__name__}: {exc}"
            continue
        if frame is not None:
            phase.last_frame = frame
        if record:
            sample.upstream = stub.requests
            phase.samples.append(sample)
    return phase


# --- figures --------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    print(
        "  ".join(
            f"{h:<{w}}" if i == 0 else f"{h:>{w}}"
            for i, (h, w) in enumerate(zip(header, widths, strict=True))
        )
    )
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(
            "  ".join(
                f"{c:<{w}}" if i == 0 else f"{c:>{w}}"
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def latency_rows(phases: dict[str, Phase]) -> list[list[str]]:
    rows = []
    for name, phase in phases.items():
        first = [s.first_event for s in phase.samples]
        last = [s.last_event for s in phase.samples]
        text = [s.first_text for s in phase.samples]
        frames = statistics.median([s.frames for s in phase.samples]) if phase.samples else 0
        rows.append(
            [
                name,
                str(len(phase.samples)),
                *(ms(percentile(first, q)) for q in (50, 95, 99)),
                ms(percentile(text, 50)),
                *(ms(percentile(last, q)) for q in (50, 95, 99)),
                f"{frames:.0f}",
                str(phase.errors),
            ]
        )
    return rows


def app_breakdown(phase: Phase) -> list[list[str]]:
    """The app's time to first event cut at the stub's timestamps (same clock); the
    embedding rows stay empty in ``--mode fulltext``."""
    parts: dict[str, list[float]] = {
        "sent -> embedding request at the stub": [],
        "embedding call (stub received -> answered)": [],
        "embedding answered -> chat request at the stub": [],
        "sent -> chat request at the stub": [],
        "chat request at the stub -> first event": [],
        "time to first event": [],
    }
    for sample in phase.samples:
        embeddings = [r for r in sample.upstream if r.route == "embeddings"]
        chats = [r for r in sample.upstream if r.route == "chat"]
        if len(chats) != 1:
            continue
        chat = chats[0]
        if len(embeddings) == 1 and embeddings[0].finished_at is not None:
            embedding = embeddings[0]
            parts["sent -> embedding request at the stub"].append(
                embedding.received_at - sample.sent_at
            )
            parts["embedding call (stub received -> answered)"].append(
                embedding.finished_at - embedding.received_at
            )
            parts["embedding answered -> chat request at the stub"].append(
                chat.received_at - embedding.finished_at
            )
        parts["sent -> chat request at the stub"].append(chat.received_at - sample.sent_at)
        parts["chat request at the stub -> first event"].append(
            sample.sent_at + sample.first_event - chat.received_at
        )
        parts["time to first event"].append(sample.first_event)
    return [
        [name, str(len(values)), ms(percentile(values, 50)), ms(percentile(values, 95))]
        for name, values in parts.items()
        if values
    ]


def gateway_breakdown(phase: Phase) -> list[list[str]]:
    """The gateway's time to first text, cut at the stub's timestamp (its first event is
    a role frame sent before it calls the model)."""
    before, after = [], []
    for sample in phase.samples:
        chats = [r for r in sample.upstream if r.route == "chat"]
        if len(chats) != 1:
            continue
        before.append(chats[0].received_at - sample.sent_at)
        after.append(sample.sent_at + sample.first_text - chats[0].received_at)
    rows = [
        ("gateway: sent -> chat request at the stub", before),
        ("gateway: chat request at the stub -> first text", after),
    ]
    return [
        [name, str(len(values)), ms(percentile(values, 50)), ms(percentile(values, 95))]
        for name, values in rows
    ]


def recorded_rows(app: Any, since: Any) -> list[list[str]]:
    """Medians of what the platform recorded for the measured runs (``Run`` / ``Step``)."""
    from apps.applications.models import Run, Step, StepKind

    runs = Run.objects.filter(app=app, started_at__gte=since)
    steps = Step.objects.filter(run__in=runs)
    values = {
        "retrieval step latency_ms": list(
            steps.filter(kind=StepKind.RETRIEVAL).values_list("latency_ms", flat=True)
        ),
        "model step latency_ms": list(
            steps.filter(kind=StepKind.MODEL).values_list("latency_ms", flat=True)
        ),
        "run first_token_ms": [
            v for v in runs.values_list("first_token_ms", flat=True) if v is not None
        ],
        "run latency_ms": list(runs.values_list("latency_ms", flat=True)),
    }
    return [
        [name, str(len(found)), f"{percentile(found, 50):.0f}", f"{percentile(found, 95):.0f}"]
        for name, found in values.items()
    ]


# --- main -----------------------------------------------------------------------------------------


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chunks", type=int, default=100_000, help="chunks in the knowledge base")
    parser.add_argument("--requests", type=int, default=200, help="measured requests per path")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured requests first")
    parser.add_argument("--dimension", type=int, default=64, help="the stub's embedding size")
    parser.add_argument(
        "--mode",
        choices=["vector", "fulltext", "hybrid"],
        help="the app's retrieval mode (default: the knowledge base's, hybrid)",
    )
    parser.add_argument(
        "--no-worker", action="store_true", help="start `up` without its Celery worker"
    )
    parser.add_argument(
        "--log-level", help="MINISTUDIO_LOG_LEVEL for `up` (default: its own, INFO)"
    )
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds to wait for `up`")
    parser.add_argument("--up-log", type=Path, help="write all of `up`'s output to this file")
    args = parser.parse_args()
    if args.chunks < 1 or args.requests < 1 or args.warmup < 0:
        parser.error("--chunks and --requests must be positive, --warmup not negative")
    return args


def main() -> int:
    args = arguments()
    began = time.monotonic()
    rng = np.random.default_rng(SEED)
    started = time.perf_counter()
    corpus = make_corpus(args.chunks, rng)
    questions = prompts(corpus, args.warmup + args.requests, rng)
    progress(f"generated {args.chunks} chunks of text in {time.perf_counter() - started:.1f}s")

    data_dir = Path(tempfile.mkdtemp(prefix="ms-app-", dir="/tmp"))
    platform: Platform | None = None
    phases: dict[str, Phase] = {}
    try:
        with UpstreamServer(embedding_dimensions=args.dimension) as stub:
            platform = Platform(
                data_dir,
                admin_email=ADMIN_EMAIL,
                admin_password=ADMIN_PASSWORD,
                with_worker=not args.no_worker,
                log_level=args.log_level,
                log=args.up_log,
            )
            ready = platform.wait_until_ready(args.timeout)
            progress(f"`up` ready in {ready:.1f}s on port {platform.port}; loading the chunks")
            attach_django(data_dir)
            setup = set_up(stub, args, corpus)
            check = hybrid_check(setup, questions[0])
            del corpus

            auth = {"Authorization": f"Bearer {setup.key}"}
            messages = lambda p: [{"role": "user", "content": p}]  # noqa: E731
            targets = [
                Target(
                    "upstream",
                    f"{stub.openai_base_url}/chat/completions",
                    {},
                    lambda p: {
                        "model": UPSTREAM_CHAT,
                        "messages": messages(p),
                        "stream": True,
                        "stream_options": {"include_usage": True},
                    },
                ),
                Target(
                    "gateway",
                    f"{platform.base_url}/compatible-mode/v1/chat/completions",
                    auth,
                    lambda p: {
                        "model": CHAT_MODEL,
                        "messages": messages(p),
                        "stream": True,
                        "stream_options": {"include_usage": True},
                    },
                ),
                Target(
                    "app",
                    f"{platform.base_url}/api/v1/apps/{setup.app_id}/completion",
                    {**auth, "X-DashScope-SSE": "enable"},
                    lambda p: {"input": {"prompt": p}, "parameters": {"incremental_output": True}},
                ),
            ]
            timeout = httpx.Timeout(60.0)
            with httpx.Client(timeout=timeout) as client:
                for target in targets:
                    phase = run_phase(client, target, stub, questions, args.warmup)
                    phases[target.name] = phase
                    progress(
                        f"{target.name}: {len(phase.samples)} ok, {phase.errors} failed"
                        + (f" (first: {phase.first_error})" if phase.first_error else "")
                    )
            if stub.crashes:
                print("the stub crashed:\n" + "\n".join(stub.crashes), file=sys.stderr)
            recorded = recorded_rows(setup.app, phases["app"].since)
            sources = len(
                (phases["app"].last_frame or {}).get("output", {}).get("doc_references") or []
            )
    finally:
        with contextlib.suppress(Exception):
            from django.db import connections

            connections.close_all()
            connections["default"].close_pool()
        if platform is not None:
            code = platform.stop()
            if code not in (0, None):
                print(f"`up` exited with {code}:\n{platform.output}", file=sys.stderr)
        kill_leftovers(data_dir)
        shutil.rmtree(data_dir, ignore_errors=True)

    print()
    print(
        f"{os.cpu_count()} cores; knowledge base of {args.chunks} chunks ({WORDS_PER_CHUNK} "
        f"words each, {args.dimension}-d vectors); {args.requests} measured requests per path "
        f"after {args.warmup} warm-up, sequential, one keep-alive connection"
        + ("" if args.no_worker else "; `up` with its Celery worker")
    )
    print(
        "load: " + ", ".join(f"{name} {value:.1f}s" for name, value in setup.load_seconds.items())
    )
    print(f"hybrid check: {check}; the app's last frame carried {sources} doc_references")
    print()
    print(
        "Latency in ms: first = first data: line; text = first frame with answer text (the "
        "gateway sends an empty role frame before it calls the model); full = last data: line."
    )
    print_table(
        [
            "path",
            "n",
            "first p50",
            "first p95",
            "first p99",
            "text p50",
            "full p50",
            "full p95",
            "full p99",
            "frames",
            "errors",
        ],
        latency_rows(phases),
    )
    print()
    print("The app's time to first event, cut at the stub's timestamps (ms):")
    print_table(
        ["part", "n", "p50", "p95"],
        app_breakdown(phases["app"]) + gateway_breakdown(phases["gateway"]),
    )
    print()
    print("What the platform recorded for the measured app runs (ms):")
    print_table(["field", "n", "p50", "p95"], recorded)
    print()
    first = percentile([s.first_event for s in phases["app"].samples], 50) * 1000
    verdict = "met" if first <= TARGET_FIRST_EVENT_MS else "NOT met"
    print(
        f"target: app median time to first event <= {TARGET_FIRST_EVENT_MS:.0f} ms: {verdict} "
        f"({first:.1f} ms)"
    )
    print(f"\ntotal run time {time.monotonic() - began:.0f} s")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:  # everything was stopped and removed on the way out
        print("interrupted", file=sys.stderr)
        sys.exit(130)
