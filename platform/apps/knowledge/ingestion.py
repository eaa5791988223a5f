"""Ingestion: parse → chunk → embed → store, in small units of work on the ``ingest`` queue.

**Units, not documents.** A token on the queue means "do the next unit of work", chosen
when it runs:

- *prepare*: claim a queued document (with up to ``PREPARE_GROUP`` more small ones of the
  same workspace), parse and chunk it, and store the drafts as ``PendingChunk`` rows (text,
  the text segmented for search, tokens, metadata; no vector). The document is then
  ``embedding`` with ``chunks_total`` known;
- *embed a slice*: up to ``KNOWLEDGE_EMBEDDING_BATCH`` pending chunks without a vector, of
  one workspace's documents that share an embedding model, in one embedding call, the
  vectors written back with one binary ``COPY``. A document whose chunks all have vectors
  is *finished* in one transaction: its old chunks (a re-index keeps them searchable until
  then) are replaced by the pending ones, moved server-side, and it is ``ready``.

**Fair, in slices.** Queued documents are prepared first (so a new upload joins the round
at once). Slices go to the workspace whose documents were served longest ago, and inside
it to the documents served longest ago, the slice filled in that order; documents never
served yet go first, in a slice of their own (many small new documents share one): a
one-chunk file uploaded behind a 2,000-chunk one is embedded in the next slice, alone,
instead of waiting for the big one to finish. A slice is as big as its model embeds in
about ``SLICE_SECONDS`` (its measured rate), so that is the longest a new file waits for
the slice in flight. Preparing is fair the same way, by each workspace's latest start.

**Safe to run again.** Every claim carries the run's id (the Celery task id) and a lease:
a document being prepared (``claimed_by`` on the document), a slice (``claimed_by`` on its
pending rows). A worker killed mid-unit leaves its token unacknowledged (``acks_late``,
``reject_on_worker_lost``): the broker hands it to the next worker, whose run resumes what
that token had claimed; what a dead run holds is taken by any run once its lease runs
out. Writes check the claim: a document deleted or re-queued while a run works on it (its
pending rows go with it) is left to whoever owns it now, and a slice whose rows were taken
over writes nothing.
"""

import logging
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone
from psycopg import sql
from psycopg.types.json import Jsonb

from apps.gateway import routing
from apps.knowledge import search_text, term_statistics
from apps.knowledge.chunking import ChunkDraft, ChunkingSettings, chunk_elements
from apps.knowledge.models import (
    IN_PROGRESS,
    Chunk,
    Document,
    DocumentStatus,
    Parser,
    PendingChunk,
)
from apps.knowledge.storage import document_storage
from apps.model_endpoints.models import EndpointCapability
from apps.plugins import discovery
from apps.plugins.models import Kind
from apps.plugins.selectors import plugin_in_workspace
from apps.plugins.services import loaded_class, settings_for
from apps.usage.quotas import QuotaExceeded, QuotaUnavailable
from kernel import queueing
from kernel.errors import ApiError
from plugins.base import Element, LoaderInput, UpstreamError

logger = logging.getLogger(__name__)

#: The ``ingest`` queue's task (``apps.knowledge.tasks``), sent by name: one token.
TASK_NAME = "knowledge.ingest_next"

#: A document this small (bytes) is prepared together with others of its workspace...
SMALL_DOCUMENT_BYTES = 64 * 1024
#: ... up to this many in one prepare.
PREPARE_GROUP = 32
#: A slice holds as many chunks as its embedding model embeds in about this long (by its
#: measured rate), at most ``KNOWLEDGE_EMBEDDING_BATCH``: a file uploaded while a slow
#: model works waits for at most that long before its own slice.
SLICE_SECONDS = 0.5
#: The weight of the latest slice in an endpoint's moving embedding rate.
RATE_WEIGHT = 0.3


class TransientFailure(Exception):
    """Worth another try later: the upstream was busy or down, a quota was full."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentFailure(Exception):
    """The document cannot be ingested as it is; the message says why."""


class Superseded(Exception):
    """The document was deleted or re-queued while this run worked on it."""


def dispatch(count: int = 1) -> None:
    """Put ``count`` tokens on the ingest queue. A token that cannot be sent (the broker
    is down) is not an error for the caller: the documents stay queued, and the periodic
    sweep (``sweep``) sends tokens for them later."""
    for _ in range(count):
        try:
            queueing.enqueue(TASK_NAME, queue=queueing.INGEST)
        except Exception as exc:
            logger.warning("Could not queue an ingestion token (%s); the sweep will", exc)
            return


def sweep(older_than_seconds: int = 60) -> int:
    """Tokens for work that waited too long: queued documents (a lost token, a broker that
    was down), documents being prepared whose lease ran out (a dead worker) and documents
    waiting for vectors that no run has served lately. Extra tokens are harmless: a token
    that finds nothing to do ends at once."""
    now = timezone.now()
    cutoff = now - timedelta(seconds=older_than_seconds)
    waiting = Document.objects.filter(status=DocumentStatus.QUEUED, queued_at__lt=cutoff).count()
    stalled = (
        Document.objects.filter(status__in=IN_PROGRESS, lease_expires_at__lt=now)
        .exclude(claimed_by="")
        .count()
    )
    idle = Document.objects.filter(
        Q(served_at__lt=cutoff) | Q(served_at__isnull=True, started_at__lt=cutoff),
        status=DocumentStatus.EMBEDDING,
        claimed_by="",
    ).count()
    if waiting + stalled + idle:
        dispatch(waiting + stalled + idle)
    return waiting + stalled + idle


def _lease() -> timedelta:
    return timedelta(seconds=settings.KNOWLEDGE_INGEST_LEASE_SECONDS)


# --- one unit of work -----------------------------------------------------------------------


@dataclass
class Unit:
    """What one unit of work did: ``prepare`` (``documents`` parsed and chunked),
    ``slice`` (``chunks`` of ``documents`` embedded) or ``finish``; ``ready``: the
    documents it finished."""

    kind: str
    documents: list[str] = field(default_factory=list)
    chunks: int = 0
    ready: list[str] = field(default_factory=list)


def ingest_next(run_id: str) -> Unit | None:
    """Do the next unit of work for run ``run_id``: resume what it had claimed (a retried
    or redelivered token), else finish a document left complete, prepare queued documents,
    or embed a slice. None when there was nothing to do.

    Raises ``TransientFailure`` (the caller retries the same run later; its claim stands
    and the retry resumes it). Permanent failures mark the documents ``failed``.
    """
    rows = _own_slice(run_id)
    if rows:
        return _embed_slice(run_id, rows)
    finished = _finish_leftovers()
    if finished:
        return Unit("finish", [finished], ready=[finished])
    documents = claim_next(run_id)
    if documents:
        prepare(documents, run_id)
        return Unit("prepare", [str(document.pk) for document in documents])
    rows = _claim_slice(run_id)
    if rows:
        return _embed_slice(run_id, rows)
    return None


def work_remains() -> bool:
    """Whether a token would find something to do now (leased work aside)."""
    if Document.objects.filter(status=DocumentStatus.QUEUED).exists():
        return True
    return PendingChunk.objects.filter(
        Q(claimed_by="") | Q(lease_expires_at__lt=timezone.now()), embedding__isnull=True
    ).exists()


# --- preparing: parse and chunk, drafts stored as pending chunks ----------------------------

_CLAIM = """
WITH candidates AS (
    SELECT id, workspace_id, queued_at, claimed_by, size
    FROM knowledge_document
    WHERE status = 'queued'
       OR (status IN ('parsing', 'chunking', 'embedding') AND claimed_by <> ''
           AND (lease_expires_at < now() OR claimed_by = %(run)s))
),
turns AS (
    SELECT workspace_id, max(started_at) AS last_started
    FROM knowledge_document
    WHERE workspace_id IN (SELECT workspace_id FROM candidates)
    GROUP BY workspace_id
),
lead AS (
    SELECT c.id, c.workspace_id, c.size
    FROM candidates c JOIN turns t USING (workspace_id)
    ORDER BY (c.claimed_by = %(run)s) DESC, t.last_started NULLS FIRST, c.queued_at, c.id
    LIMIT 1
),
chosen AS (
    SELECT id FROM lead
    UNION
    SELECT id FROM candidates WHERE claimed_by = %(run)s
    UNION
    (SELECT c.id FROM candidates c JOIN lead ON lead.workspace_id = c.workspace_id
     WHERE lead.size <= %(small)s AND c.size <= %(small)s AND c.claimed_by = ''
       AND c.id <> lead.id
     ORDER BY c.queued_at, c.id
     LIMIT %(more)s)
)
UPDATE knowledge_document AS d
SET status = 'parsing', claimed_by = %(run)s, lease_expires_at = now() + %(lease)s,
    attempts = d.attempts + 1, started_at = clock_timestamp(), progress = 0, error = '',
    chunks_done = 0, chunks_total = 0, served_at = NULL, warnings = '{}', pages_done = 0,
    pages_total = 0
WHERE d.id IN (SELECT id FROM chosen)
AND (d.status = 'queued'
     OR (d.status IN ('parsing', 'chunking', 'embedding') AND d.claimed_by <> ''
         AND (d.lease_expires_at < now() OR d.claimed_by = %(run)s)))
RETURNING d.id
"""


def claim_next(run_id: str) -> list[Document]:
    """Claim documents to prepare for run ``run_id``: those this run had claimed before (a
    redelivered or retried token), else the fair next one, with more small queued ones of
    its workspace when it is small. Oldest first; empty when nothing waits."""
    params = {
        "run": run_id,
        "lease": _lease(),
        "small": SMALL_DOCUMENT_BYTES,
        "more": PREPARE_GROUP - 1,
    }
    for _ in range(20):  # a concurrent run may win the rows between choice and update
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM, params)
            ids = [row[0] for row in cursor.fetchall()]
        if ids:
            return list(
                Document.objects.select_related(
                    "workspace", "knowledge_base__workspace", "knowledge_base__embedding_endpoint"
                )
                .filter(pk__in=ids)
                .order_by("queued_at", "id")
            )
        if not Document.objects.filter(status=DocumentStatus.QUEUED).exists():
            return []
    return []


@dataclass
class Prepared:
    document: Document
    drafts: list[ChunkDraft]
    #: Each draft's text segmented for full-text search (``search_text.segmented``).
    segmented: list[str]
    timings: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def prepare(documents: list[Document], run_id: str) -> None:
    """Parse and chunk ``documents`` (claimed by ``run_id``) and store their drafts; a
    document that cannot be read fails alone."""
    prepared: list[Prepared] = []
    with _lease_kept(run_id, [d.pk for d in documents]):
        for document in documents:
            try:
                prepared.append(_prepare_one(document))
            except PermanentFailure as exc:
                fail([document.pk], str(exc), run_id=run_id)
    if prepared:
        _store_drafts(prepared, run_id)


@contextmanager
def _lease_kept(run_id: str, ids: list[object]) -> Iterator[None]:
    """Renew the claim's lease on a thread of its own while the documents are read: one
    step can outlast the lease (OCR of a scanned page may take minutes on a busy machine),
    and a lease that ran out would let another run claim them and read them again."""
    stop = threading.Event()

    def renew() -> None:
        try:
            while not stop.wait(settings.KNOWLEDGE_INGEST_LEASE_SECONDS / 5):
                _renew(run_id, ids)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=renew, name=f"lease-{run_id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _prepare_one(document: Document) -> Prepared:
    started = time.monotonic()
    warnings: list[str] = []
    elements = _parse(document, warnings)
    parse_ms = _ms(started)
    started = time.monotonic()
    drafts = chunk_elements(
        elements, ChunkingSettings.model_validate(document.knowledge_base.chunking)
    )
    if not drafts:
        raise PermanentFailure(_nothing_found(document, warnings))
    segmented = [search_text.segmented(draft.text) for draft in drafts]
    timings = {"parse_ms": parse_ms, "chunk_ms": _ms(started)}
    return Prepared(document, drafts, segmented, timings, warnings)


def _nothing_found(document: Document, warnings: list[str]) -> str:
    if warnings:
        return "No text could be read: " + "; ".join(warnings)
    if document.parser == Parser.TEXT:
        return (
            "No text was found in the file's text layer. If it is scanned, upload it again "
            "with the parser 'automatic' or 'OCR every page'."
        )
    return "No text was found in the file (it is empty, or its images hold no text)."


class _PageProgress:
    """The loader's page count, written to the document as it goes (at most twice a
    second: a loader may report every slide)."""

    def __init__(self, document: Document) -> None:
        self._document = document
        self._written = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and now - self._written < 0.5:
            return
        self._written = now
        Document.objects.filter(
            pk=self._document.pk, claimed_by=self._document.claimed_by, status__in=IN_PROGRESS
        ).update(pages_done=done, pages_total=total)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _renew(run_id: str, ids: list[object]) -> None:
    Document.objects.filter(pk__in=ids, claimed_by=run_id, status__in=IN_PROGRESS).update(
        lease_expires_at=timezone.now() + _lease()
    )


_COPY_PENDING = sql.SQL(
    "COPY {table} (document_id, ordinal, text, search_text, token_count, metadata, claimed_by) "
    "FROM STDIN (FORMAT BINARY)"
).format(table=sql.Identifier(PendingChunk._meta.db_table))
_PENDING_TYPES = ["uuid", "int4", "text", "text", "int4", "jsonb", "text"]


def _store_drafts(prepared: list[Prepared], run_id: str) -> None:
    """In one transaction: the drafts of the documents this run still owns become pending
    chunks (what an earlier run left goes first), and the documents wait for vectors."""
    with transaction.atomic():
        mine = set(
            Document.objects.select_for_update()
            .filter(
                pk__in=[p.document.pk for p in prepared],
                claimed_by=run_id,
                status__in=IN_PROGRESS,
            )
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        kept = [p for p in prepared if p.document.pk in mine]
        if not kept:
            return
        PendingChunk.objects.filter(document_id__in=mine).delete()
        connection.ensure_connection()
        with connection.connection.cursor() as cursor, cursor.copy(_COPY_PENDING) as copy:
            copy.set_types(_PENDING_TYPES)
            for item in kept:
                for ordinal, (draft, words) in enumerate(
                    zip(item.drafts, item.segmented, strict=True)
                ):
                    copy.write_row(
                        (
                            item.document.pk,
                            ordinal,
                            draft.text,
                            words,
                            draft.token_count,
                            Jsonb(draft.metadata),
                            "",
                        )
                    )
        with connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE knowledge_document SET status = 'embedding', claimed_by = '', "
                "lease_expires_at = NULL, chunks_total = %s, chunks_done = 0, progress = 0, "
                "served_at = NULL, timings = %s, warnings = %s WHERE id = %s",
                [(len(p.drafts), Jsonb(p.timings), p.warnings, p.document.pk) for p in kept],
            )


def _parse(document: Document, warnings: list[str]) -> list[Element]:
    """The loader's elements for ``document``; what it could not read (a page) is added to
    ``warnings``."""
    entry = plugin_in_workspace(document.workspace, Kind.LOADER, document.loader)
    plugin_class = loaded_class(entry.plugin) if entry else None
    if entry is None or plugin_class is None or not entry.usable:
        raise PermanentFailure(
            f"The loader '{document.loader}' is not available any more (uninstalled or "
            "disabled in this workspace)."
        )
    try:
        with document_storage().open(document.storage_key, "rb") as stored:
            data = stored.read()
    except OSError as exc:
        raise PermanentFailure(f"The uploaded file is missing from storage: {exc}") from None
    source = LoaderInput(
        filename=document.name,
        media_type=document.media_type,
        data=data,
        parser=document.parser,
        on_progress=_PageProgress(document),
        on_warning=warnings.append,
    )
    loader = discovery.instance_of(plugin_class)
    try:
        return loader.load(source, settings_for(entry, plugin_class))
    except ValueError as exc:
        raise PermanentFailure(str(exc)) from None
    except ApiError as exc:
        raise PermanentFailure(exc.message) from None
    except Exception as exc:  # a plugin's bug must fail the document, not loop the worker
        logger.exception("Loader %s crashed on document %s", document.loader, document.pk)
        raise PermanentFailure(
            f"The {document.loader} loader could not read the file ({type(exc).__name__}: {exc})."
        ) from None


# --- embedding slices -----------------------------------------------------------------------

_CLAIM_SLICE = """
WITH todo AS (
    SELECT d.id, d.workspace_id, kb.embedding_endpoint_id AS endpoint_id, d.served_at,
           d.queued_at
    FROM knowledge_document d
    JOIN knowledge_knowledgebase kb ON kb.id = d.knowledge_base_id
    WHERE d.status = 'embedding' AND d.claimed_by = '' AND d.chunks_done < d.chunks_total
      AND EXISTS (
          SELECT 1 FROM knowledge_pendingchunk p
          WHERE p.document_id = d.id AND p.embedding IS NULL
            AND (p.claimed_by = '' OR p.lease_expires_at < now())
      )
),
turns AS (
    SELECT workspace_id, max(served_at) AS last_served
    FROM knowledge_document
    WHERE workspace_id IN (SELECT workspace_id FROM todo)
    GROUP BY workspace_id
),
lead AS (
    SELECT t.workspace_id, t.endpoint_id, t.served_at IS NULL AS new
    FROM todo t JOIN turns USING (workspace_id)
    ORDER BY turns.last_served NULLS FIRST, t.served_at NULLS FIRST, t.queued_at, t.id
    LIMIT 1
),
size AS (
    SELECT least(
        %(batch)s,
        greatest(1, coalesce(floor(r.chunks_per_second * %(seconds)s)::int, %(batch)s))) AS n
    FROM lead LEFT JOIN knowledge_embeddingrate r ON r.endpoint_id = lead.endpoint_id
),
picked AS (
    -- The lead's documents in turn, each one's rows by ordinal (an index range, at most a
    -- slice of it), until the slice is full: never every pending row sorted.
    SELECT p.id
    FROM (
        SELECT t.id, t.served_at, t.queued_at
        FROM todo t
        JOIN lead ON lead.workspace_id = t.workspace_id AND lead.endpoint_id = t.endpoint_id
        WHERE (t.served_at IS NULL) = lead.new
        ORDER BY t.served_at NULLS FIRST, t.queued_at, t.id
    ) t
    CROSS JOIN LATERAL (
        SELECT p.id, p.ordinal
        FROM knowledge_pendingchunk p
        WHERE p.document_id = t.id AND p.embedding IS NULL
          AND (p.claimed_by = '' OR p.lease_expires_at < now())
        ORDER BY p.ordinal
        LIMIT (SELECT n FROM size)
        FOR UPDATE OF p SKIP LOCKED
    ) p
    ORDER BY t.served_at NULLS FIRST, t.queued_at, t.id, p.ordinal
    LIMIT (SELECT n FROM size)
)
UPDATE knowledge_pendingchunk AS p
SET claimed_by = %(run)s, lease_expires_at = now() + %(lease)s
FROM picked
WHERE p.id = picked.id
RETURNING p.id, p.document_id, p.ordinal, p.text
"""

_OWN_SLICE = """
UPDATE knowledge_pendingchunk SET lease_expires_at = now() + %(lease)s
WHERE claimed_by = %(run)s AND embedding IS NULL
RETURNING id, document_id, ordinal, text
"""


@dataclass(frozen=True)
class SliceRow:
    id: int
    document_id: uuid.UUID
    ordinal: int
    text: str


def _rows(cursor) -> list[SliceRow]:
    rows = [SliceRow(*row) for row in cursor.fetchall()]
    return sorted(rows, key=lambda row: (str(row.document_id), row.ordinal))


def _own_slice(run_id: str) -> list[SliceRow]:
    """The slice this run had claimed and not written (a retried or redelivered token)."""
    with connection.cursor() as cursor:
        cursor.execute(_OWN_SLICE, {"run": run_id, "lease": _lease()})
        return _rows(cursor)


def _claim_slice(run_id: str) -> list[SliceRow]:
    """Claim the next slice fairly (see the module's docstring)."""
    params = {
        "run": run_id,
        "lease": _lease(),
        "batch": settings.KNOWLEDGE_EMBEDDING_BATCH,
        "seconds": SLICE_SECONDS,
    }
    with transaction.atomic(), connection.cursor() as cursor:
        _commit_without_waiting_for_disk()
        cursor.execute(_CLAIM_SLICE, params)
        return _rows(cursor)


def _embed_slice(run_id: str, rows: list[SliceRow]) -> Unit:
    """Embed the slice's texts in one call, write the vectors back, finish the documents
    it completed."""
    document_ids = sorted({row.document_id for row in rows}, key=str)
    documents = {
        d.pk: d
        for d in Document.objects.select_related(
            "knowledge_base__workspace", "knowledge_base__embedding_endpoint"
        ).filter(pk__in=document_ids)
    }
    rows = [row for row in rows if row.document_id in documents]
    unit = Unit("slice", [str(pk) for pk in documents], chunks=len(rows))
    if not rows:  # deleted meanwhile: their pending rows went with them
        return unit
    knowledge_base = documents[rows[0].document_id].knowledge_base
    started = time.monotonic()
    try:
        vectors = _embed(knowledge_base, [row.text for row in rows])
    except PermanentFailure as exc:
        if len(documents) == 1:
            fail(list(documents), str(exc))
            return unit
        # One document's text may be what the model refuses: each on its own, then.
        for document_id in documents:
            mine = [row for row in rows if row.document_id == document_id]
            if mine:
                unit.ready += _embed_slice_alone(run_id, knowledge_base, mine)
        return unit
    seconds = time.monotonic() - started
    complete = _write_vectors(
        run_id, rows, vectors, seconds, rate_of=knowledge_base.embedding_endpoint_id
    )
    unit.ready = [str(pk) for pk in _finish(complete)]
    return unit


def _embed_slice_alone(run_id: str, knowledge_base, rows: list[SliceRow]) -> list[str]:
    started = time.monotonic()
    try:
        vectors = _embed(knowledge_base, [row.text for row in rows])
    except PermanentFailure as exc:
        fail([rows[0].document_id], str(exc))
        return []
    complete = _write_vectors(run_id, rows, vectors, time.monotonic() - started)
    return [str(pk) for pk in _finish(complete)]


def _embed(knowledge_base, texts: list[str]) -> list[list[float]]:
    endpoint = knowledge_base.embedding_endpoint
    try:
        target = routing.route(
            knowledge_base.workspace, endpoint.name, EndpointCapability.EMBEDDING, surface="ingest"
        )
        answer = routing.embed(target, texts, input_type="document")
    except UpstreamError as exc:
        if exc.retryable:
            raise TransientFailure(exc.message, exc.retry_after) from None
        raise PermanentFailure(f"The embedding model refused the text: {exc.message}") from None
    except (QuotaExceeded, QuotaUnavailable) as exc:
        raise TransientFailure(exc.message, float(exc.retry_after or 30)) from None
    except ApiError as exc:  # the model was revoked or disabled meanwhile
        raise PermanentFailure(f"Embedding model '{endpoint.name}': {exc.message}") from None
    if len(answer.vectors) != len(texts):
        raise PermanentFailure(
            f"The embedding model returned {len(answer.vectors)} vectors for {len(texts)} texts."
        )
    for vector in answer.vectors:
        if len(vector) != knowledge_base.embedding_dimension:
            raise PermanentFailure(
                f"The embedding model returned {len(vector)} dimensions; the knowledge "
                f"base expects {knowledge_base.embedding_dimension}."
            )
    return answer.vectors


_STAGING = "ingest_vectors"
_WRITE = """
WITH written AS (
    UPDATE knowledge_pendingchunk p
    SET embedding = v.embedding, claimed_by = '', lease_expires_at = NULL
    FROM ingest_vectors v
    WHERE p.id = v.id AND p.claimed_by = %(run)s AND p.embedding IS NULL
    RETURNING p.document_id
),
counts AS (SELECT document_id, count(*) AS n FROM written GROUP BY document_id)
UPDATE knowledge_document d
SET chunks_done = d.chunks_done + c.n,
    progress = least(99, (d.chunks_done + c.n) * 100 / greatest(d.chunks_total, 1)),
    served_at = clock_timestamp(),
    timings = jsonb_set(
        d.timings, '{embed_ms}',
        to_jsonb(coalesce((d.timings ->> 'embed_ms')::bigint, 0)
                 + round(%(ms)s * c.n / %(size)s)::bigint))
FROM counts c
WHERE d.id = c.document_id AND d.status = 'embedding'
RETURNING d.id, d.chunks_done >= d.chunks_total
"""


def _vector_bytes(vectors: list[list[float]]) -> list[bytes]:
    """pgvector's binary format: dimensions and a zero (int16 each), then float4s, all
    big-endian."""
    matrix = np.asarray(vectors, dtype=">f4")
    header = struct.pack(">HH", matrix.shape[1], 0)
    return [header + row.tobytes() for row in matrix]


def _write_vectors(
    run_id: str,
    rows: list[SliceRow],
    vectors: list[list[float]],
    seconds: float,
    *,
    rate_of: object | None = None,
) -> list[uuid.UUID]:
    """The slice's vectors into its pending rows (those this run still holds), with one
    binary COPY into a staging table; the documents' progress moves, and the embedding
    rate of endpoint ``rate_of`` when given. Returns the documents that now have every
    vector."""
    encoded = _vector_bytes(vectors)
    with transaction.atomic():
        _commit_without_waiting_for_disk()
        connection.ensure_connection()
        with connection.connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMPORARY TABLE IF NOT EXISTS {_STAGING} "
                "(id bigint, embedding vector) ON COMMIT DELETE ROWS"
            )
            with cursor.copy(f"COPY {_STAGING} (id, embedding) FROM STDIN (FORMAT BINARY)") as cp:
                cp.set_types(["int8", "bytea"])
                for row, vector in zip(rows, encoded, strict=True):
                    cp.write_row((row.id, vector))
            cursor.execute(_WRITE, {"run": run_id, "ms": round(seconds * 1000), "size": len(rows)})
            complete = [document_id for document_id, done in cursor.fetchall() if done]
            cursor.execute(f"DELETE FROM {_STAGING}")  # noqa: S608 (a constant)
        if rate_of is not None:
            _record_rate(rate_of, len(rows), seconds)
        return complete


def _commit_without_waiting_for_disk() -> None:
    """This transaction's commit returns before its WAL reaches the disk (``SET LOCAL
    synchronous_commit = off``), sparing each slice a flush or two.

    Safe for claims and vectors: what a database crash loses of them is work done again,
    never a wrong state. Lost vectors leave their rows claimed by their run without a
    vector, embedded again when the lease runs out; a lost claim leaves the rows free, and
    the run's write finds them not its own and writes nothing. A finish still waits for
    the disk, and flushes these commits with its own."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL synchronous_commit = off")


def _record_rate(endpoint_id: object, chunks: int, seconds: float) -> None:
    """Fold the slice's rate into the endpoint's moving average."""
    if seconds <= 0 or not chunks:
        return
    rate = chunks / seconds
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO knowledge_embeddingrate (endpoint_id, chunks_per_second, updated_at) "
            "VALUES (%s, %s, now()) ON CONFLICT (endpoint_id) DO UPDATE SET "
            "chunks_per_second = knowledge_embeddingrate.chunks_per_second * %s + "
            "EXCLUDED.chunks_per_second * %s, updated_at = now()",
            [endpoint_id, rate, 1 - RATE_WEIGHT, RATE_WEIGHT],
        )


# --- finishing: pending chunks become the document's chunks ---------------------------------

_MOVE = sql.SQL(
    "INSERT INTO {chunks} (workspace_id, knowledge_base_id, document_id, ordinal, text, "
    "token_count, metadata, embedding, search_vector, search_length) "
    "SELECT d.workspace_id, d.knowledge_base_id, p.document_id, p.ordinal, p.text, "
    "p.token_count, p.metadata, p.embedding, v.tsv, "
    "(SELECT coalesce(sum(array_length(u.positions, 1)), 0) FROM unnest(v.tsv) AS u) "
    "FROM {pending} p JOIN {documents} d ON d.id = p.document_id "
    "CROSS JOIN LATERAL (SELECT to_tsvector({config}, p.search_text) AS tsv) v "
    "WHERE p.document_id = ANY(%(documents)s::uuid[]) ORDER BY p.document_id, p.ordinal"
).format(
    chunks=sql.Identifier(Chunk._meta.db_table),
    pending=sql.Identifier(PendingChunk._meta.db_table),
    documents=sql.Identifier(Document._meta.db_table),
    config=sql.Literal(search_text.CONFIG),
)

_COUNT_PENDING = """
SELECT document_id, count(*), count(embedding), coalesce(sum(token_count), 0)
FROM knowledge_pendingchunk WHERE document_id = ANY(%s::uuid[])
GROUP BY document_id
"""

_MARK_READY = """
UPDATE knowledge_document d
SET status = 'ready', progress = 100, error = '', chunk_count = v.chunks,
    chunks_done = v.chunks, token_count = v.tokens, claimed_by = '', lease_expires_at = NULL,
    finished_at = now(),
    timings = d.timings || jsonb_build_object(
        'store_ms', %(store_ms)s::int,
        'embed_ms', coalesce(d.timings -> 'embed_ms', '0'::jsonb))
FROM unnest(%(documents)s::uuid[], %(chunks)s::int[], %(tokens)s::bigint[])
     AS v(id, chunks, tokens)
WHERE d.id = v.id
"""


def _finish_leftovers() -> str | None:
    """A document whose every chunk has its vector but was not finished (its run died in
    between): finish it now."""
    left = (
        Document.objects.filter(status=DocumentStatus.EMBEDDING, claimed_by="", chunks_total__gt=0)
        .filter(chunks_done__gte=F("chunks_total"))
        .values_list("pk", flat=True)
        .first()
    )
    if left is not None and _finish([left]):
        return str(left)
    return None


def _finish(document_ids: list[uuid.UUID]) -> list[uuid.UUID]:
    """Replace the documents' chunks with their pending ones, in one transaction, for
    those whose every pending chunk has its vector (and that are still waiting for them).
    Returns the documents made ready."""
    if not document_ids:
        return []
    started = time.monotonic()
    with transaction.atomic():
        documents = list(
            Document.objects.select_for_update()
            .filter(pk__in=document_ids, status=DocumentStatus.EMBEDDING, claimed_by="")
            .order_by("pk")
        )
        if not documents:
            return []
        with connection.cursor() as cursor:
            cursor.execute(_COUNT_PENDING, [[str(d.pk) for d in documents]])
            counts = {row[0]: row[1:] for row in cursor.fetchall()}
            ready = []
            for document in documents:
                total, embedded, tokens = counts.get(document.pk, (0, 0, 0))
                if total and embedded == total == document.chunks_total:
                    ready.append((document, total, tokens))
            if not ready:
                return []
            ids = [str(document.pk) for document, _, _ in ready]
            # The old chunks (a re-index) leave the statistics, then the table.
            cursor.execute(
                "SELECT DISTINCT document_id FROM knowledge_chunk "
                "WHERE document_id = ANY(%s::uuid[])",
                [ids],
            )
            stale = {row[0] for row in cursor.fetchall()}
            by_knowledge_base = _by_knowledge_base([document for document, _, _ in ready])
            for knowledge_base_id, documents_of_kb in by_knowledge_base.items():
                term_statistics.discount_documents(
                    [pk for pk in documents_of_kb if pk in stale], knowledge_base_id
                )
            if stale:
                Chunk.objects.filter(document_id__in=stale).delete()
            cursor.execute(_MOVE, {"documents": ids})
            for knowledge_base_id, documents_of_kb in by_knowledge_base.items():
                term_statistics.count_documents(documents_of_kb, knowledge_base_id)
            cursor.execute(
                "DELETE FROM knowledge_pendingchunk WHERE document_id = ANY(%s::uuid[])", [ids]
            )
            cursor.execute(
                _MARK_READY,
                {
                    "store_ms": _ms(started) // len(ready),
                    "documents": ids,
                    "chunks": [total for _, total, _ in ready],
                    "tokens": [tokens for _, _, tokens in ready],
                },
            )
    for document, total, _ in ready:
        logger.info("Document %s ready (%d chunks)", document.pk, total)
    return [document.pk for document, _, _ in ready]


def _by_knowledge_base(documents: list[Document]) -> dict[object, list[uuid.UUID]]:
    """The documents' ids by knowledge base, in order: their statistics change together."""
    grouped: dict[object, list[uuid.UUID]] = {}
    for document in documents:
        grouped.setdefault(document.knowledge_base_id, []).append(document.pk)
    return grouped


# --- failing --------------------------------------------------------------------------------


def fail(document_ids: list[object], reason: str, run_id: str | None = None) -> None:
    """Mark the documents failed with ``reason`` (those this run still owns, when
    ``run_id`` is given: a document being prepared), and drop their pending chunks."""
    logger.info("Documents %s failed: %s", [str(pk) for pk in document_ids], reason)
    with transaction.atomic():
        found = Document.objects.filter(pk__in=document_ids, status__in=IN_PROGRESS)
        found = found.filter(claimed_by=run_id) if run_id is not None else found
        failed = list(found.select_for_update().values_list("pk", flat=True))
        if not failed:
            return
        PendingChunk.objects.filter(document_id__in=failed).delete()
        Document.objects.filter(pk__in=failed).update(
            status=DocumentStatus.FAILED,
            error=reason[:2000],
            claimed_by="",
            lease_expires_at=None,
            finished_at=timezone.now(),
        )


def fail_claimed(run_id: str, reason: str) -> None:
    """Fail whatever run ``run_id`` holds (its retries are spent): the documents it was
    preparing and those of the slice it was embedding."""
    preparing = list(
        Document.objects.filter(claimed_by=run_id, status__in=IN_PROGRESS).values_list(
            "pk", flat=True
        )
    )
    if preparing:
        fail(preparing, reason, run_id=run_id)
    embedding = list(
        PendingChunk.objects.filter(claimed_by=run_id, embedding__isnull=True)
        .values_list("document_id", flat=True)
        .distinct()
    )
    if embedding:
        fail(embedding, reason)
