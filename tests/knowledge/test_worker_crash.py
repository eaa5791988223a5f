"""A real ingest worker is killed in the middle of a document; the next worker finishes it,
with no duplicate chunks. Celery runs for real here, through Redis."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from apps.knowledge.models import Chunk, Document, DocumentStatus
from tests.knowledge.conftest import create_kb, upload
from tests.upstream import slow
from workers.celery_app import app as celery_app

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]


def start_worker() -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'].replace('/', '%2F')}/{db['NAME']}",
        "REDIS_URL": settings.TEST_REDIS_URL,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "platform"), str(ROOT)]),
        "MINISTUDIO_EMBEDDING_BATCH": "1",  # many small embedding calls: time to die mid-way
        "MINISTUDIO_BROKER_VISIBILITY_TIMEOUT": "2",  # hand back a dead worker's task soon
    }
    return subprocess.Popen(
        [sys.executable, "-m", "studio.cli", "worker", "--queues", "ingest", "--concurrency", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group: killed whole, children included
    )


def wait_for(condition, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


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
        run = Document.objects.get(pk=document.pk).claimed_by
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)
        assert Document.objects.get(pk=document.pk).status == DocumentStatus.EMBEDDING

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
    assert finished.attempts == 2  # claimed by the first worker, resumed by the second
    ordinals = list(Chunk.objects.filter(document=document).values_list("ordinal", flat=True))
    assert sorted(ordinals) == list(range(finished.chunk_count))
    assert finished.chunk_count > 10
    assert run  # the same token (task id) carried the claim across workers
