"""Hybrid retrieval runs its stages at once: the vector search (the query's embedding, then
the HNSW query) on a thread with its own database connection while full text runs on the
caller's thread; inside a transaction both stay on the caller's thread, which alone sees
the transaction's rows."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections, transaction

from apps.applications.workflow.shared_connection import borrowed_connection
from apps.knowledge import fulltext, retrieval
from apps.knowledge.models import Chunk, KnowledgeBase
from apps.knowledge.retrieval_settings import RetrievalSettings
from tests.knowledge.conftest import create_kb, upload

SECURITY = b"Security\n\nLaptops must use full disk encryption and a screen lock.\n"
TRAVEL = b"Travel\n\nEmployees book economy class for flights under six hours.\n"
QUERY = "disk encryption for laptops"


@pytest.fixture
def kb(acme_console, upstream) -> KnowledgeBase:
    kb = create_kb(acme_console, chunking={"chunk_size": 64, "chunk_overlap": 0})
    upload(acme_console, kb["id"], {"security.txt": SECURITY, "travel.txt": TRAVEL})
    return KnowledgeBase.objects.get(pk=kb["id"])


@pytest.fixture
def stage_threads(monkeypatch) -> dict[str, str]:
    """Which thread ran each stage; full text waits (up to ``threads["wait"]`` s, 10 unless a
    test lowers it) for the vector search to have started, so that a test passes only if
    the two really overlap."""
    threads: dict = {"wait": 10}
    vector_started = threading.Event()
    vector_ranking, rank = retrieval._vector_ranking, fulltext.rank

    def recorded_vector_ranking(*args, **kwargs):
        threads["vector"] = threading.current_thread().name
        threads["vector connection"] = connections["default"]
        vector_started.set()
        return vector_ranking(*args, **kwargs)

    def recorded_rank(*args, **kwargs):
        threads["fulltext"] = threading.current_thread().name
        threads["overlapped"] = vector_started.wait(threads["wait"])
        return rank(*args, **kwargs)

    monkeypatch.setattr(retrieval, "_vector_ranking", recorded_vector_ranking)
    monkeypatch.setattr(fulltext, "rank", recorded_rank)
    return threads


def search(kb: KnowledgeBase, mode: str = "hybrid") -> list[tuple[str, dict]]:
    options = RetrievalSettings(mode=mode, top_k=2)
    hits = retrieval.retrieve(kb.workspace, [kb], QUERY, options)
    return [(hit.document_name, hit.ranks) for hit in hits]


@pytest.mark.django_db(transaction=True)
def test_vector_search_runs_beside_full_text(kb, stage_threads):
    found = search(kb)
    assert stage_threads["overlapped"] is True
    assert stage_threads["vector"].startswith("vector-search")
    assert stage_threads["fulltext"] == threading.current_thread().name
    assert found[0] == ("security.txt", {"vector": 1, "fulltext": 1, "hybrid": 1})


@pytest.mark.django_db(transaction=True)
def test_the_same_hits_with_or_without_the_thread(kb, stage_threads):
    beside = search(kb)
    stage_threads["wait"] = 0.1  # inline: full text comes first, nothing to wait for
    with transaction.atomic():
        inline = search(kb)
    assert stage_threads["vector"] == threading.current_thread().name  # the last search
    assert inline == beside


@pytest.mark.django_db(transaction=True)
def test_a_vector_only_search_stays_on_the_callers_thread(kb, stage_threads):
    assert search(kb, mode="vector")[0][0] == "security.txt"
    assert stage_threads["vector"] == threading.current_thread().name


@pytest.mark.django_db(transaction=True)
def test_inside_a_transaction_the_search_sees_its_uncommitted_changes(kb, stage_threads):
    """Another connection would still find the deleted chunk: it is not committed."""
    stage_threads["wait"] = 0.1
    with transaction.atomic():
        Chunk.objects.filter(document__name="security.txt").delete()
        found = search(kb)
        transaction.set_rollback(True)
    assert [name for name, _ in found] == ["travel.txt"]
    assert stage_threads["vector"] == threading.current_thread().name
    assert stage_threads["overlapped"] is False  # full text ran first
    assert search(kb)[0][0] == "security.txt"  # rolled back


@pytest.mark.django_db(transaction=True)
def test_when_every_thread_is_busy_the_search_runs_inline(kb, stage_threads, monkeypatch):
    monkeypatch.setattr(retrieval, "_free_vector_threads", threading.BoundedSemaphore(1))
    retrieval._free_vector_threads.acquire()
    stage_threads["wait"] = 0.1
    assert search(kb)[0][0] == "security.txt"
    assert stage_threads["vector"] == threading.current_thread().name


@pytest.mark.django_db(transaction=True)
def test_a_run_thread_borrowing_its_callers_connection_searches_on_a_connection_of_its_own(
    kb, stage_threads
):
    """An app's nodes run on LangGraph's threads with the caller's connection (see
    workflow/shared_connection.py); the vector search beside them must neither use that
    connection from a second thread nor close it when it is done."""
    caller = connections["default"]
    caller.ensure_connection()

    def in_a_run_thread():
        with borrowed_connection(caller):
            return search(kb)

    caller.inc_thread_sharing()  # as the engine does for a run (workflow/engine.py)
    try:
        with ThreadPoolExecutor(1) as pool:
            found = pool.submit(in_a_run_thread).result()
    finally:
        caller.dec_thread_sharing()
    assert found[0][0] == "security.txt"
    assert stage_threads["overlapped"] is True
    assert stage_threads["vector connection"] is not caller
    assert caller.connection is not None and caller.is_usable()
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
