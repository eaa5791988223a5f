"""The ingestion queue's guarantees, run directly (no Celery), one unit of work at a time
as the ingest workers' tokens do them: fair turns across workspaces, small documents
not stuck behind big ones, slices embedded across documents, resuming a claim, leases,
no duplicate chunks on a re-run, deletes and re-indexes mid-way, progress."""

import uuid
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.utils import timezone

from apps.knowledge import ingestion, services
from apps.knowledge.models import (
    Chunk,
    Document,
    DocumentStatus,
    EmbeddingRate,
    KnowledgeBase,
    PendingChunk,
)
from apps.knowledge.services import create_knowledge_base
from apps.knowledge.storage import document_storage
from tests.console import ConsoleClient
from tests.knowledge.test_full_text import assert_exact, recomputed, stored

pytestmark = pytest.mark.django_db

#: One chunk per paragraph (paragraphs are shorter than this many tokens).
SMALL_CHUNKS = {"mode": "length", "chunk_size": 32, "chunk_overlap": 0}


def queued_document(knowledge_base: KnowledgeBase, name: str, text: str = "some words") -> Document:
    document = Document(
        workspace=knowledge_base.workspace,
        knowledge_base=knowledge_base,
        name=name,
        size=len(text.encode()),
        loader="text",
        checksum=uuid.uuid4().hex + uuid.uuid4().hex,
        queued_at=timezone.now(),
    )
    document.storage_key = document_storage().save(
        f"tests/{document.pk}", ContentFile(text.encode())
    )
    document.save()
    return document


def paragraphs(count: int, topic: str = "topic") -> str:
    return "\n\n".join(
        f"Paragraph {i} says something about {topic} {i}, with a few more words to fill it up."
        for i in range(count)
    )


def run_unit() -> ingestion.Unit | None:
    """One token's unit of work, with a fresh run id (as each Celery token has its own)."""
    return ingestion.ingest_next(f"run-{uuid.uuid4()}")


def run_all() -> int:
    units = 0
    while run_unit() is not None:
        units += 1
    return units


def embedded_texts(upstream) -> list[list[str]]:
    """The inputs of each embedding call the stub received, in order."""
    calls = []
    for request in upstream.requests_for("embeddings"):
        inputs = request.body["input"]
        calls.append([inputs] if isinstance(inputs, str) else list(inputs))
    return calls


def status(document: Document) -> str:
    return Document.objects.get(pk=document.pk).status


@pytest.fixture
def acme_kb(models, acme):
    return create_knowledge_base(acme, name="Acme docs", chunking=SMALL_CHUNKS)


@pytest.fixture
def globex_kb(models, globex):
    return create_knowledge_base(globex, name="Globex docs", chunking=SMALL_CHUNKS)


# --- preparing: fair turns, claims, leases --------------------------------------------------


def test_workspaces_take_turns(acme_kb, globex_kb):
    backlog = [queued_document(acme_kb, f"acme-{i:03}.txt") for i in range(200)]
    single = queued_document(globex_kb, "globex.txt")
    claimed = []
    for i in range(3):  # each claim's documents are prepared before the next claim
        documents = ingestion.claim_next(f"run-{i}")
        claimed.append([d.name for d in documents])
        Document.objects.filter(pk__in=[d.pk for d in documents]).update(
            status=DocumentStatus.READY
        )
    group = ingestion.PREPARE_GROUP
    # acme's first small documents were queued first, prepared together; globex's only
    # one comes right after them, then acme's next group.
    assert claimed == [
        [d.name for d in backlog[:group]],
        [single.name],
        [d.name for d in backlog[group : 2 * group]],
    ]


def test_a_big_document_is_prepared_alone(acme_kb):
    big = queued_document(acme_kb, "big.txt", paragraphs(3000))
    small = queued_document(acme_kb, "small.txt")
    assert big.size > ingestion.SMALL_DOCUMENT_BYTES
    assert [d.pk for d in ingestion.claim_next("run-1")] == [big.pk]
    assert [d.pk for d in ingestion.claim_next("run-2")] == [small.pk]


def test_a_retried_run_resumes_its_own_documents(acme_kb):
    first = queued_document(acme_kb, "a.txt", paragraphs(3000))
    second = queued_document(acme_kb, "b.txt", paragraphs(3001))
    assert [d.pk for d in ingestion.claim_next("run-1")] == [first.pk]
    assert [d.pk for d in ingestion.claim_next("run-2")] == [second.pk]
    # run-1's worker died; its token comes back and takes up the same document.
    (resumed,) = ingestion.claim_next("run-1")
    assert resumed.pk == first.pk
    assert (resumed.status, resumed.attempts) == (DocumentStatus.PARSING, 2)


def test_a_document_whose_lease_ran_out_is_taken_by_any_run(acme_kb):
    stalled = queued_document(acme_kb, "a.txt")
    assert [d.pk for d in ingestion.claim_next("dead-run")] == [stalled.pk]
    assert ingestion.claim_next("other-run") == []  # leased: nobody else takes it
    Document.objects.filter(pk=stalled.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )
    (taken,) = ingestion.claim_next("other-run")
    assert (taken.pk, taken.claimed_by) == (stalled.pk, "other-run")


# --- slices: small behind big, across workspaces, across documents --------------------------


def test_a_one_chunk_file_behind_a_2000_chunk_file_is_ready_first(acme_kb, upstream):
    big = queued_document(acme_kb, "big.txt", paragraphs(2000))
    run_unit()  # prepare
    big.refresh_from_db()
    assert (big.status, big.chunks_total, big.chunks_done) == ("embedding", 2000, 0)
    for _ in range(3):
        run_unit()  # three slices of the big one
    assert Document.objects.get(pk=big.pk).chunks_done == 3 * 32

    small = queued_document(acme_kb, "small.txt", "One short note about the weather.")
    units = 0
    while status(small) != DocumentStatus.READY:
        run_unit()
        units += 1
    # Prepared by the next unit, embedded by the next slice: its own (never served yet).
    assert units == 2
    assert status(big) == DocumentStatus.EMBEDDING
    assert Document.objects.get(pk=big.pk).chunks_done == 3 * 32
    assert embedded_texts(upstream)[-1] == ["One short note about the weather."]

    run_all()
    big.refresh_from_db()
    assert (big.status, big.chunk_count, big.chunks_done, big.progress) == (
        "ready",
        2000,
        2000,
        100,
    )
    ordinals = list(Chunk.objects.filter(document=big).values_list("ordinal", flat=True))
    assert sorted(ordinals) == list(range(2000))
    assert not PendingChunk.objects.exists()
    assert stored(str(acme_kb.pk)) == recomputed(str(acme_kb.pk)) != {}


def test_workspaces_take_turns_at_slices(acme_kb, globex_kb, upstream):
    for i in range(2):
        queued_document(acme_kb, f"acme-big-{i}.txt", paragraphs(200, f"acme{i}"))
    run_unit()
    run_unit()  # both prepared
    run_unit()  # acme's first slice
    single = queued_document(globex_kb, "globex.txt", paragraphs(40, "globex"))
    run_unit()  # prepared
    served = []
    for _ in range(4):
        unit = run_unit()
        workspace = Document.objects.get(pk=unit.documents[0]).workspace.slug
        served.append(workspace)
    # globex was never served, acme was: globex goes next, then they alternate.
    assert served == ["globex", "acme", "globex", "acme"]
    assert status(single) == DocumentStatus.READY  # 40 chunks: two slices
    # A slice never mixes workspaces (each is metered to its own).
    for texts in embedded_texts(upstream):
        assert len({"globex" in text for text in texts}) == 1


def test_small_documents_are_embedded_together(acme_kb, upstream):
    documents = [
        queued_document(acme_kb, f"note-{i}.txt", f"Note {i} about the harbour.") for i in range(5)
    ]
    unit = run_unit()
    assert (unit.kind, len(unit.documents)) == ("prepare", 5)  # one prepare for all five
    unit = run_unit()
    assert (unit.kind, unit.chunks, len(unit.ready)) == ("slice", 5, 5)
    (call,) = embedded_texts(upstream)  # one embedding call for all five
    assert sorted(call) == sorted(f"Note {i} about the harbour." for i in range(5))
    for document in documents:
        document.refresh_from_db()
        assert (document.status, document.chunk_count) == ("ready", 1)
        assert set(document.timings) >= {"parse_ms", "chunk_ms", "embed_ms", "store_ms"}
    assert run_unit() is None


def test_one_slice_finishing_documents_of_two_knowledge_bases_keeps_their_statistics_exact(
    acme, acme_kb, upstream
):
    # The statistics of all the documents a slice finishes change in one set of statements
    # per knowledge base; re-indexed ones leave with their old chunks first.
    other_kb = create_knowledge_base(acme, name="Acme notes", chunking=SMALL_CHUNKS)
    texts = ["harbour cranes at dawn", "harbour ferries", "cranes and gulls", "dawn tide"]
    mine = [queued_document(acme_kb, f"a-{i}.txt", text) for i, text in enumerate(texts)]
    theirs = [queued_document(other_kb, f"b-{i}.txt", text) for i, text in enumerate(texts[:2])]
    while run_unit() is not None:
        pass
    for document in [mine[0], mine[2], theirs[1]]:
        services.reindex_document(document)
    queued_document(acme_kb, "a-new.txt", "gulls over the harbour")
    assert run_unit().kind == "prepare"
    unit = run_unit()
    assert (unit.kind, len(unit.ready)) == ("slice", 4)  # one finish for all four
    for knowledge_base in (acme_kb, other_kb):
        assert_exact(str(knowledge_base.pk))
    assert Chunk.objects.filter(knowledge_base=acme_kb).count() == 5


# --- leases, crashes, re-runs ---------------------------------------------------------------


def test_a_slice_whose_lease_ran_out_is_taken_by_another_run(acme_kb, upstream):
    document = queued_document(acme_kb, "a.txt", paragraphs(10))
    run_unit()
    rows = ingestion._claim_slice("dead-run")
    assert len(rows) == 10
    assert ingestion._claim_slice("other-run") == []  # leased: nobody else takes it
    assert run_unit() is None
    PendingChunk.objects.update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    unit = ingestion.ingest_next("other-run")
    assert (unit.chunks, unit.ready) == (10, [str(document.pk)])
    # The dead run's worker comes back to life late: it holds nothing, writes nothing.
    assert ingestion._write_vectors("dead-run", rows, [[0.1] * 64] * 10, 1.0) == []
    document.refresh_from_db()
    assert (document.status, document.chunks_done, document.chunk_count) == ("ready", 10, 10)


def test_a_redelivered_token_resumes_its_own_slice(acme_kb, upstream):
    document = queued_document(acme_kb, "a.txt", paragraphs(10))
    run_unit()
    assert len(ingestion._claim_slice("run-1")) == 10  # and the worker died
    unit = ingestion.ingest_next("run-1")  # the same token, redelivered
    assert (unit.kind, unit.chunks, unit.ready) == ("slice", 10, [str(document.pk)])


def test_a_rerun_after_a_crash_leaves_no_duplicate_chunks(acme_kb, upstream):
    document = queued_document(acme_kb, "a.txt", "alpha beta gamma\n\ndelta epsilon")
    run_all()
    count = Chunk.objects.filter(document=document).count()
    assert count >= 1
    # As if the preparing worker had died and its lease had run out: prepared again.
    Document.objects.filter(pk=document.pk).update(
        status=DocumentStatus.PARSING,
        claimed_by="dead-run",
        lease_expires_at=timezone.now() - timedelta(seconds=1),
    )
    run_all()
    assert Chunk.objects.filter(document=document).count() == count
    assert status(document) == DocumentStatus.READY
    assert stored(str(acme_kb.pk)) == recomputed(str(acme_kb.pk))


def test_a_document_left_complete_by_a_dead_run_is_finished(acme_kb, upstream):
    document = queued_document(acme_kb, "a.txt", paragraphs(3))
    run_unit()
    rows = ingestion._claim_slice("run-1")
    ingestion._write_vectors("run-1", rows, [[0.1] * 64] * 3, 1.0)  # then it died
    assert status(document) == DocumentStatus.EMBEDDING
    unit = run_unit()
    assert (unit.kind, unit.ready) == ("finish", [str(document.pk)])
    assert Chunk.objects.filter(document=document).count() == 3


def test_a_document_deleted_mid_slice_is_left_alone(acme_kb, upstream):
    document = queued_document(acme_kb, "a.txt", paragraphs(100))
    kept = queued_document(acme_kb, "b.txt", paragraphs(5, "kept"))
    run_unit()  # both prepared together
    rows = ingestion._claim_slice("run-1")
    assert {row.document_id for row in rows} == {document.pk}
    services.delete_document(Document.objects.get(pk=document.pk))
    assert not PendingChunk.objects.filter(document_id=document.pk).exists()
    # The in-flight slice finds its rows gone: it writes nothing and fails nothing.
    assert ingestion._write_vectors("run-1", rows, [[0.1] * 64] * len(rows), 1.0) == []
    unit = ingestion.ingest_next("run-1")
    assert unit.ready == [str(kept.pk)]
    assert run_unit() is None
    assert not Chunk.objects.filter(document_id=document.pk).exists()
    assert stored(str(acme_kb.pk)) == recomputed(str(acme_kb.pk))


def test_a_document_reindexed_mid_way_starts_again_and_stays_searchable(acme_kb, upstream):
    document = queued_document(acme_kb, "a.txt", paragraphs(100))
    run_all()
    before = list(Chunk.objects.filter(document=document).values_list("ordinal", "text"))
    assert len(before) == 100
    services.reindex_document(Document.objects.get(pk=document.pk))
    run_unit()  # prepared again
    rows = ingestion._claim_slice("run-1")
    run_unit()  # another slice
    # The old chunks answer searches until the new ones replace them.
    assert list(Chunk.objects.filter(document=document).values_list("ordinal", "text")) == before
    services.reindex_document(Document.objects.get(pk=document.pk))  # again, mid-way
    assert Document.objects.get(pk=document.pk).chunks_done == 0
    assert ingestion._write_vectors("run-1", rows, [[0.1] * 64] * len(rows), 1.0) == []
    run_all()
    document.refresh_from_db()
    assert (document.status, document.chunks_done, document.chunk_count) == ("ready", 100, 100)
    after = list(Chunk.objects.filter(document=document).values_list("ordinal", "text"))
    assert after == before
    assert stored(str(acme_kb.pk)) == recomputed(str(acme_kb.pk))


def test_the_sweep_sends_tokens_for_forgotten_work(acme_kb, upstream):
    waiting = queued_document(acme_kb, "a.txt")
    Document.objects.filter(pk=waiting.pk).update(queued_at=timezone.now() - timedelta(minutes=5))
    assert ingestion.sweep() == 1  # eager here: the token ran at once
    assert status(waiting) == DocumentStatus.READY
    assert ingestion.sweep() == 0

    idle = queued_document(acme_kb, "b.txt", paragraphs(40))
    run_unit()  # prepared, and then its token was lost
    Document.objects.filter(pk=idle.pk).update(started_at=timezone.now() - timedelta(minutes=5))
    assert ingestion.sweep() == 1
    assert status(idle) == DocumentStatus.READY


# --- progress -------------------------------------------------------------------------------


def test_a_slice_is_sized_to_the_models_measured_rate(acme_kb, upstream):
    queued_document(acme_kb, "a.txt", paragraphs(100))
    run_unit()
    EmbeddingRate.objects.create(endpoint=acme_kb.embedding_endpoint, chunks_per_second=10)
    rows = ingestion._claim_slice("run-1")  # 10 chunks a second, slices of half a second
    assert len(rows) == int(10 * ingestion.SLICE_SECONDS)


def test_a_slice_takes_the_documents_in_turn_each_from_its_next_chunk(acme_kb, upstream):
    first = queued_document(acme_kb, "first.txt", paragraphs(6, "first"))
    second = queued_document(acme_kb, "second.txt", paragraphs(6, "second"))
    run_unit()  # both prepared in one unit (small)
    EmbeddingRate.objects.create(endpoint=acme_kb.embedding_endpoint, chunks_per_second=8)
    held = ingestion._claim_slice("run-1")  # 4 chunks, all of the first document's first
    assert {(row.document_id, row.ordinal) for row in held} == {(first.pk, i) for i in range(4)}
    taken = ingestion._claim_slice("run-2")  # what run-1 holds is skipped, not waited for
    assert {(row.document_id, row.ordinal) for row in taken} == {
        (first.pk, 4),
        (first.pk, 5),
        (second.pk, 0),
        (second.pk, 1),
    }


def test_progress_and_time_left_in_the_api(acme_kb, globex_kb, alice, bob, upstream):
    acme_console = ConsoleClient().as_user(alice, "acme")
    big = queued_document(acme_kb, "big.txt", paragraphs(200))
    path = f"/knowledge-bases/{acme_kb.pk}/documents"

    def listed() -> dict:
        response = acme_console.get(path)
        assert response.status_code == 200
        (document,) = response.json()["items"]
        single = acme_console.get(f"{path}/{big.pk}").json()
        assert {k: single[k] for k in document} == document  # the same either way
        return document

    document = listed()
    assert (document["status"], document["chunks_done"], document["chunks_total"]) == (
        "queued",
        0,
        0,
    )
    assert document["seconds_left"] is None  # not chunked yet
    run_unit()
    document = listed()
    assert (document["chunks_done"], document["chunks_total"]) == (0, 200)
    assert document["seconds_left"] is None  # the model's rate is not known yet
    run_unit()
    run_unit()
    EmbeddingRate.objects.filter(endpoint=acme_kb.embedding_endpoint).update(chunks_per_second=8)
    document = listed()
    assert (document["status"], document["chunks_done"], document["chunks_total"]) == (
        "embedding",
        64,
        200,
    )
    assert document["progress"] == 32
    assert document["seconds_left"] == 17  # 136 chunks left at 8 a second
    # Another document sharing the model shares its time: 136 + 5 chunks to embed.
    queued_document(globex_kb, "globex.txt", paragraphs(5, "globex"))
    run_unit()
    assert listed()["seconds_left"] == 18

    run_all()
    document = listed()
    assert (document["status"], document["chunks_done"], document["chunks_total"]) == (
        "ready",
        200,
        200,
    )
    assert (document["progress"], document["seconds_left"]) == (100, None)
    # Another workspace's member sees none of it.
    globex_console = ConsoleClient().as_user(bob, "globex")
    assert globex_console.get(f"{path}/{big.pk}").status_code == 404
    assert globex_console.get(path).status_code == 404
