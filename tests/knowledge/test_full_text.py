"""Full-text retrieval is BM25, with term statistics kept exact as documents come and go."""

import pytest
from django.db import connection
from django.db.models import Sum

from apps.knowledge import term_statistics
from apps.knowledge.models import Chunk, FreshPosting, Posting, TermStatistic
from tests.knowledge.conftest import create_kb, upload

pytestmark = pytest.mark.django_db(transaction=True)


def recomputed(kb_id: str) -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT u.lexeme, count(*) FROM knowledge_chunk c, unnest(c.search_vector) u "
            "WHERE c.knowledge_base_id = %s GROUP BY u.lexeme",
            [kb_id],
        )
        return dict(cursor.fetchall())


def stored(kb_id: str) -> dict[str, int]:
    """The document frequencies as retrieval sums them."""
    sums = (
        TermStatistic.objects.filter(knowledge_base_id=kb_id)
        .values("term")
        .annotate(n=Sum("chunk_count"))
        .filter(n__gt=0)
    )
    return {row["term"]: row["n"] for row in sums}


def postings_recomputed(kb_id: str) -> list[tuple[int, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT knowledge_term_key(c.knowledge_base_id, u.lexeme), c.id "
            "FROM knowledge_chunk c, unnest(c.search_vector) u "
            "WHERE c.knowledge_base_id = %s ORDER BY 1, 2",
            [kb_id],
        )
        return cursor.fetchall()


def postings_stored(kb_id: str) -> list[tuple[int, int]]:
    """The knowledge base's postings in both tables (a chunk's term once, in one of them)."""
    chunk_ids = Chunk.objects.filter(knowledge_base_id=kb_id).values("pk")
    return sorted(
        [
            *Posting.objects.filter(chunk__in=chunk_ids).values_list("term_key", "chunk_id"),
            *FreshPosting.objects.filter(chunk__in=chunk_ids).values_list("term_key", "chunk_id"),
        ]
    )


def assert_exact(kb_id: str) -> None:
    assert stored(kb_id) == recomputed(kb_id)
    assert postings_stored(kb_id) == postings_recomputed(kb_id)
    chunks = Chunk.objects.filter(knowledge_base_id=kb_id)
    totals = term_statistics.totals([kb_id])
    assert totals.chunks == chunks.count()
    assert totals.words == sum(chunks.values_list("search_length", flat=True))


def test_statistics_follow_uploads_reindexing_and_deletes(acme_console, upstream):
    kb = create_kb(acme_console)
    first, second = upload(
        acme_console,
        kb["id"],
        {"a.txt": b"Apples and pears.\n\nApples again.", "b.txt": "苹果和梨子。".encode()},
    )["documents"]
    assert recomputed(kb["id"]) != {}
    assert_exact(kb["id"])
    path = f"/knowledge-bases/{kb['id']}/documents"
    acme_console.post(f"{path}/{first['document']['id']}/reindex")
    assert_exact(kb["id"])
    acme_console.delete(f"{path}/{second['document']['id']}")
    assert_exact(kb["id"])
    acme_console.delete(f"{path}/{first['document']['id']}")
    assert_exact(kb["id"])
    assert term_statistics.totals([kb["id"]]).chunks == 0


def test_a_rare_term_counts_more_than_a_common_one(acme_console, upstream):
    kb = create_kb(acme_console)
    upload(
        acme_console,
        kb["id"],
        {
            "banana.txt": b"An apple and a banana.",
            "cherry.txt": b"An apple and a cherry.",
            "durian.txt": b"An apple and a durian.",
        },
    )
    found = acme_console.post(
        f"/knowledge-bases/{kb['id']}/hit-test",
        {"query": "apple durian", "mode": "fulltext", "top_k": 3},
    ).json()["hits"]
    assert found[0]["document_name"] == "durian.txt"
    assert found[0]["score"] > found[1]["score"] > 0
    assert found[0]["score"] <= 1


def test_stemming_matches_word_forms(acme_console, upstream):
    kb = create_kb(acme_console)
    upload(acme_console, kb["id"], {"running.txt": b"She was running every morning."})
    found = acme_console.post(
        f"/knowledge-bases/{kb['id']}/hit-test", {"query": "runs", "mode": "fulltext"}
    ).json()["hits"]
    assert [hit["document_name"] for hit in found] == ["running.txt"]
