"""Ingestion: parse → chunk → embed → store, one document per run, on the ``ingest`` queue.

**Fair across workspaces.** The queue holds interchangeable tokens ("ingest one
document"), one per queued document; which document a token ingests is chosen when it
runs: the oldest queued document of the workspace whose last turn (the latest start of
one of its documents) is longest ago, a workspace never served going first. So
workspaces take turns, and a workspace's single file waits behind at most one document of
each other busy workspace, not behind their backlogs.

**Safe to run again.** A run *claims* its document (``claimed_by`` = the task id, with a
lease it renews as it goes) and writes all the chunks in one transaction that first
deletes what an earlier run left, so a re-run never duplicates chunks. A worker killed
mid-document leaves its token unacknowledged (``acks_late``, ``reject_on_worker_lost``):
the broker hands it to the next worker, which resumes the document that token had
claimed; a document whose lease ran out is taken by any run. A document deleted or
re-queued while a run works on it is left to whoever owns it now.
"""

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from psycopg import sql
from psycopg.types.json import Jsonb

from apps.gateway import routing
from apps.knowledge import search_text, term_statistics
from apps.knowledge.chunking import ChunkDraft, ChunkingSettings, chunk_elements
from apps.knowledge.models import IN_PROGRESS, Chunk, Document, DocumentStatus
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
    """Tokens for documents that waited too long: queued ones (a lost token, a broker that
    was down) and in-progress ones whose lease ran out (a dead worker). Extra tokens are
    harmless: a token that finds nothing to do ends at once."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    waiting = Document.objects.filter(status=DocumentStatus.QUEUED, queued_at__lt=cutoff).count()
    stalled = Document.objects.filter(
        status__in=IN_PROGRESS, lease_expires_at__lt=timezone.now()
    ).count()
    if waiting + stalled:
        dispatch(waiting + stalled)
    return waiting + stalled


# --- claiming -------------------------------------------------------------------------------

_CLAIM = """
WITH candidates AS (
    SELECT id, workspace_id, queued_at, claimed_by
    FROM knowledge_document
    WHERE status = 'queued'
       OR (status IN ('parsing', 'chunking', 'embedding')
           AND (lease_expires_at < now() OR claimed_by = %(run)s))
),
turns AS (
    SELECT workspace_id, max(started_at) AS last_started
    FROM knowledge_document
    WHERE workspace_id IN (SELECT workspace_id FROM candidates)
    GROUP BY workspace_id
)
UPDATE knowledge_document AS d
SET status = 'parsing', claimed_by = %(run)s, lease_expires_at = now() + %(lease)s,
    attempts = d.attempts + 1, started_at = clock_timestamp(), progress = 0, error = ''
WHERE d.id = (
    SELECT c.id FROM candidates c JOIN turns t USING (workspace_id)
    ORDER BY (c.claimed_by = %(run)s) DESC, t.last_started NULLS FIRST, c.queued_at, c.id
    LIMIT 1
)
AND (d.status = 'queued' OR d.lease_expires_at < now() OR d.claimed_by = %(run)s)
RETURNING d.id
"""


def claim_next(run_id: str) -> Document | None:
    """Claim the next document for run ``run_id``: the one this run had claimed before (a
    redelivered or retried token), else the fair next one. None when nothing waits."""
    lease = timedelta(seconds=settings.KNOWLEDGE_INGEST_LEASE_SECONDS)
    for _ in range(20):  # a concurrent run may win the row between choice and update
        with connection.cursor() as cursor:
            cursor.execute(_CLAIM, {"run": run_id, "lease": lease})
            row = cursor.fetchone()
        if row is not None:
            return Document.objects.select_related(
                "workspace", "knowledge_base__workspace", "knowledge_base__embedding_endpoint"
            ).get(pk=row[0])
        if not Document.objects.filter(status=DocumentStatus.QUEUED).exists():
            return None
    return None


def _still_mine(document: Document, run_id: str, **changes: object) -> None:
    """Renew the lease (and apply ``changes``), or raise ``Superseded``."""
    lease = timezone.now() + timedelta(seconds=settings.KNOWLEDGE_INGEST_LEASE_SECONDS)
    updated = Document.objects.filter(
        pk=document.pk, claimed_by=run_id, status__in=IN_PROGRESS
    ).update(lease_expires_at=lease, **changes)
    if not updated:
        raise Superseded(str(document.pk))
    for name, value in changes.items():
        setattr(document, name, value)


# --- the pipeline ---------------------------------------------------------------------------


@dataclass
class Timer:
    timings: dict[str, int]

    def lap(self, stage: str, started: float) -> None:
        self.timings[stage] = round((time.monotonic() - started) * 1000)


def ingest_next(run_id: str) -> str | None:
    """Claim a document and ingest it. Returns its id, or None when the queue was empty.

    Raises ``TransientFailure`` (the caller retries the same run later; the claim stands
    and the retry resumes it). Permanent failures mark the document ``failed``.
    """
    document = claim_next(run_id)
    if document is None:
        return None
    try:
        ingest(document, run_id)
    except Superseded:
        logger.info("Document %s changed hands during ingestion; leaving it", document.pk)
    except PermanentFailure as exc:
        fail(document, run_id, str(exc))
    return str(document.pk)


def ingest(document: Document, run_id: str) -> None:
    timer = Timer({})
    started = time.monotonic()
    elements = _parse(document)
    timer.lap("parse_ms", started)

    _still_mine(document, run_id, status=DocumentStatus.CHUNKING)
    started = time.monotonic()
    drafts = chunk_elements(
        elements, ChunkingSettings.model_validate(document.knowledge_base.chunking)
    )
    timer.lap("chunk_ms", started)
    if not drafts:
        raise PermanentFailure("No text was found in the file (it is empty, or scanned images).")

    _still_mine(document, run_id, status=DocumentStatus.EMBEDDING)
    started = time.monotonic()
    vectors = _embed(document, run_id, drafts)
    timer.lap("embed_ms", started)

    started = time.monotonic()
    _store(document, run_id, drafts, vectors, timer)


def _parse(document: Document) -> list[Element]:
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
    source = LoaderInput(filename=document.name, media_type=document.media_type, data=data)
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


def _embed(document: Document, run_id: str, drafts: list[ChunkDraft]) -> list[list[float]]:
    knowledge_base = document.knowledge_base
    endpoint = knowledge_base.embedding_endpoint
    batch = settings.KNOWLEDGE_EMBEDDING_BATCH
    vectors: list[list[float]] = []
    for start in range(0, len(drafts), batch):
        texts = [draft.text for draft in drafts[start : start + batch]]
        try:
            target = routing.route(
                knowledge_base.workspace,
                endpoint.name,
                EndpointCapability.EMBEDDING,
                surface="ingest",
            )
            answer = routing.embed(target, texts, input_type="document")
        except UpstreamError as exc:
            if exc.retryable:
                raise TransientFailure(exc.message, exc.retry_after) from None
            raise PermanentFailure(f"The embedding model refused the text: {exc.message}") from None
        except (QuotaExceeded, QuotaUnavailable) as exc:
            retry_after = float(exc.retry_after or 30)
            raise TransientFailure(exc.message, retry_after) from None
        except ApiError as exc:  # the model was revoked or disabled meanwhile
            raise PermanentFailure(f"Embedding model '{endpoint.name}': {exc.message}") from None
        for vector in answer.vectors:
            if len(vector) != knowledge_base.embedding_dimension:
                raise PermanentFailure(
                    f"The embedding model returned {len(vector)} dimensions; the knowledge "
                    f"base expects {knowledge_base.embedding_dimension}."
                )
        vectors.extend(answer.vectors)
        done = len(vectors) * 100 // len(drafts)
        _still_mine(document, run_id, progress=min(99, done))
    return vectors


_INSERT = sql.SQL(
    "INSERT INTO {chunks} (workspace_id, knowledge_base_id, document_id, ordinal, text, "
    "token_count, metadata, embedding, search_vector, search_length) "
    "SELECT %s, %s, %s, %s, %s, %s, %s, %s::vector, v.tsv, "
    "(SELECT coalesce(sum(array_length(u.positions, 1)), 0) FROM unnest(v.tsv) AS u) "
    "FROM (SELECT to_tsvector({config}, %s) AS tsv) AS v"
).format(chunks=sql.Identifier(Chunk._meta.db_table), config=sql.Literal(search_text.CONFIG))


def _store(
    document: Document,
    run_id: str,
    drafts: list[ChunkDraft],
    vectors: list[list[float]],
    timer: Timer,
) -> None:
    started = time.monotonic()
    rows = [
        (
            document.workspace_id,
            document.knowledge_base_id,
            document.pk,
            ordinal,
            draft.text,
            draft.token_count,
            Jsonb(draft.metadata),
            "[" + ",".join(map(repr, vector)) + "]",
            search_text.segmented(draft.text),
        )
        for ordinal, (draft, vector) in enumerate(zip(drafts, vectors, strict=True))
    ]
    with transaction.atomic():
        locked = (
            Document.objects.select_for_update()
            .filter(pk=document.pk, claimed_by=run_id, status__in=IN_PROGRESS)
            .first()
        )
        if locked is None:
            raise Superseded(str(document.pk))
        # What an interrupted or earlier run left goes first, from the statistics too.
        term_statistics.discount_document(document.pk, document.knowledge_base_id)
        Chunk.objects.filter(document=document).delete()
        with connection.cursor() as cursor:
            cursor.executemany(_INSERT, rows)
        term_statistics.count_document(document.pk, document.knowledge_base_id)
        timer.lap("store_ms", started)
        Document.objects.filter(pk=document.pk).update(
            status=DocumentStatus.READY,
            progress=100,
            error="",
            chunk_count=len(drafts),
            token_count=sum(draft.token_count for draft in drafts),
            timings=timer.timings,
            claimed_by="",
            lease_expires_at=None,
            finished_at=timezone.now(),
        )


def fail(document: Document, run_id: str, reason: str) -> None:
    """Mark the document failed with ``reason``, if this run still owns it."""
    logger.info("Document %s failed: %s", document.pk, reason)
    Document.objects.filter(pk=document.pk, claimed_by=run_id).update(
        status=DocumentStatus.FAILED,
        error=reason[:2000],
        claimed_by="",
        lease_expires_at=None,
        finished_at=timezone.now(),
    )


def fail_claimed(run_id: str, reason: str) -> None:
    """Fail whatever run ``run_id`` holds (its retries are spent)."""
    for document in Document.objects.filter(claimed_by=run_id, status__in=IN_PROGRESS):
        fail(document, run_id, reason)
