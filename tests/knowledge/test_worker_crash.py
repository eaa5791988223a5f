"""A real ingest worker is killed in the middle of a document; the next worker finishes it,
with no duplicate chunks and without embedding again what was embedded before the kill.
Celery runs for real here, through Redis."""

import os
import signal

import pytest

from apps.knowledge.models import Chunk, Document, DocumentStatus, PendingChunk
from tests.knowledge.conftest import create_kb, upload
from tests.upstream import slow
from tests.worker_process import start_worker as start_ingest_worker
from tests.worker_process import wait_for
from workers.celery_app import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def start_worker():
    return start_ingest_worker(
        "ingest",
        MINISTUDIO_EMBEDDING_BATCH="1",  # many small embedding calls: time to die mid-way
        MINISTUDIO_BROKER_VISIBILITY_TIMEOUT="2",  # hand back a dead worker's task soon
    )


def test_a_killed_worker_leaves_the_document_to_the_next(acme_console, upstream):
    kb = create_kb(acme_console, chunking={"mode": "length", "chunk_size": 32, "chunk_overlap": 0})
    upstream.script("embeddings", *[slow(0.25)] * 200)
    text = "\n\n".join(f"Paragraph {i} says something about topic {i}." for i in range(60))
    celery_app.conf.task_always_eager = False
    first = start_worker()
    second = None
    try:
        upload(acme_console, kb["id"], {"long.txt": text.encode()})
        document = Document.objects.get()
        wait_for(
            lambda: Document.objects.filter(
                pk=document.pk, status=DocumentStatus.EMBEDDING, progress__gt=0
            ).exists(),
            60,
            "the first worker to be embedding",
        )
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        killed = Document.objects.get(pk=document.pk)
        assert killed.status == DocumentStatus.EMBEDDING
        assert 0 < killed.chunks_done < killed.chunks_total

        second = start_worker()
        finished = wait_for(
            lambda: Document.objects.filter(pk=document.pk, status=DocumentStatus.READY).first(),
            90,
            "the second worker to finish the document",
        )
    finally:
        celery_app.conf.task_always_eager = True
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(30)
    assert finished.attempts == 1  # prepared once: the second worker went on embedding
    ordinals = list(Chunk.objects.filter(document=document).values_list("ordinal", flat=True))
    assert sorted(ordinals) == list(range(finished.chunk_count))
    assert finished.chunk_count > 10
    assert finished.chunks_done == finished.chunks_total == finished.chunk_count
    assert not PendingChunk.objects.exists()
    # One call per chunk (slices of one), and at most the one in flight at the kill again.
    calls = len(upstream.requests_for("embeddings"))
    assert finished.chunk_count <= calls <= finished.chunk_count + 1
