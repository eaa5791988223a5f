"""The ingestion queue's guarantees, run directly (no Celery): fair turns across
workspaces, resuming a claimed document, leases, and no duplicate chunks on a re-run."""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.knowledge import ingestion
from apps.knowledge.models import Chunk, Document, DocumentStatus, KnowledgeBase
from apps.knowledge.services import create_knowledge_base
from apps.knowledge.storage import document_storage

pytestmark = pytest.mark.django_db


def queued_document(knowledge_base: KnowledgeBase, name: str, text: str = "some words") -> Document:
    document = Document(
        workspace=knowledge_base.workspace,
        knowledge_base=knowledge_base,
        name=name,
        size=len(text),
        loader="text",
        checksum=name.ljust(64, "0")[:64],
        queued_at=timezone.now(),
    )
    document.storage_key = document_storage().save(f"tests/{document.pk}", _file(text))
    document.save()
    return document


def _file(text: str):
    from django.core.files.base import ContentFile

    return ContentFile(text.encode())


@pytest.fixture
def acme_kb(models, acme):
    return create_knowledge_base(acme, name="Acme docs")


@pytest.fixture
def globex_kb(models, globex):
    return create_knowledge_base(globex, name="Globex docs")


def test_workspaces_take_turns(acme_kb, globex_kb):
    backlog = [queued_document(acme_kb, f"acme-{i:03}.txt") for i in range(200)]
    single = queued_document(globex_kb, "globex.txt")
    claimed = []
    for i in range(4):  # one worker: each document is finished before the next claim
        document = ingestion.claim_next(f"run-{i}")
        claimed.append(document.name)
        Document.objects.filter(pk=document.pk).update(status=DocumentStatus.READY)
    # acme's first document was queued first; globex's only one comes right after it.
    assert claimed == [backlog[0].name, single.name, backlog[1].name, backlog[2].name]


def test_a_retried_run_resumes_its_own_document(acme_kb):
    first, second = (queued_document(acme_kb, n) for n in ("a.txt", "b.txt"))
    assert ingestion.claim_next("run-1").pk == first.pk
    assert ingestion.claim_next("run-2").pk == second.pk
    # run-1's worker died; its token comes back and takes up the same document.
    resumed = ingestion.claim_next("run-1")
    assert resumed.pk == first.pk
    assert (resumed.status, resumed.attempts) == (DocumentStatus.PARSING, 2)


def test_a_document_whose_lease_ran_out_is_taken_by_any_run(acme_kb):
    stalled = queued_document(acme_kb, "a.txt")
    assert ingestion.claim_next("dead-run").pk == stalled.pk
    assert ingestion.claim_next("other-run") is None  # leased: nobody else takes it
    Document.objects.filter(pk=stalled.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    taken = ingestion.claim_next("other-run")
    assert (taken.pk, taken.claimed_by) == (stalled.pk, "other-run")


def test_a_rerun_after_a_crash_leaves_no_duplicate_chunks(acme_kb, upstream):
    document = queued_document(acme_kb, "a.txt", "alpha beta gamma\n\ndelta epsilon")
    claimed = ingestion.claim_next("run-1")
    ingestion.ingest(claimed, "run-1")
    count = Chunk.objects.filter(document=document).count()
    assert count >= 1
    # As if the worker had died after storing but before acknowledging: it runs again.
    Document.objects.filter(pk=document.pk).update(
        status=DocumentStatus.EMBEDDING, claimed_by="run-1"
    )
    ingestion.ingest(ingestion.claim_next("run-1"), "run-1")
    assert Chunk.objects.filter(document=document).count() == count
    assert Document.objects.get(pk=document.pk).status == DocumentStatus.READY


def test_a_document_deleted_mid_run_is_left_alone(acme_kb, upstream):
    document = queued_document(acme_kb, "a.txt")
    claimed = ingestion.claim_next("run-1")
    Document.objects.filter(pk=document.pk).delete()
    assert ingestion.ingest_next("run-1") is None  # nothing else queued
    with pytest.raises(ingestion.Superseded):
        ingestion.ingest(claimed, "run-1")
    assert not Chunk.objects.exists()


def test_the_sweep_sends_tokens_for_forgotten_documents(acme_kb, upstream):
    waiting = queued_document(acme_kb, "a.txt")
    Document.objects.filter(pk=waiting.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    assert ingestion.sweep() == 1  # eager here: the token ran at once
    assert Document.objects.get(pk=waiting.pk).status == DocumentStatus.READY
    assert ingestion.sweep() == 0
