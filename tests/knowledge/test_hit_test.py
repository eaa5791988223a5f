"""The hit test (命中测试): vector, full-text and hybrid retrieval, rerank, threshold,
top-k, tag / metadata filters and several knowledge bases at once, in Chinese and English.

Embeddings come from the scripted upstream (texts sharing words are close); one test runs
the real local model for meaning across languages."""

import pytest

from apps.knowledge.models import Document
from tests.knowledge.conftest import create_kb, upload
from tests.upstream import scores

pytestmark = pytest.mark.django_db(transaction=True)

TRAVEL = (
    b"# Travel\n\nEmployees book economy class for flights under six hours.\n\n"
    b"Hotels are reimbursed up to 150 euros a night.\n"
)
SECURITY = b"Security\n\nLaptops must use full disk encryption and a screen lock.\n"
CHINESE = "报销制度\n\n员工出差乘坐高铁二等座，住宿费用凭发票报销。\n".encode()


@pytest.fixture
def kb(acme_console, upstream):
    kb = create_kb(acme_console, chunking={"chunk_size": 64, "chunk_overlap": 0})
    upload(acme_console, kb["id"], {"travel.txt": TRAVEL}, tags="hr,travel")
    upload(acme_console, kb["id"], {"security.txt": SECURITY}, tags="it", metadata='{"year": 2026}')
    upload(acme_console, kb["id"], {"报销.txt": CHINESE}, tags="hr")
    assert set(Document.objects.values_list("status", flat=True)) == {"ready"}
    return kb


def hit_test(console, kb_id, query, **options):
    response = console.post(f"/knowledge-bases/{kb_id}/hit-test", {"query": query, **options})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("mode", ["vector", "fulltext", "hybrid"])
def test_each_mode_finds_the_chunk_that_answers(acme_console, kb, mode):
    found = hit_test(acme_console, kb["id"], "disk encryption for laptops", mode=mode, top_k=3)
    assert found["mode"] == mode
    best = found["hits"][0]
    assert best["document_name"] == "security.txt"
    assert "encryption" in best["text"]
    assert mode in best["scores"] and 0 < best["score"] <= 1
    assert best["ranks"][mode] == 1


def test_hybrid_reports_every_stages_score(acme_console, kb):
    best = hit_test(acme_console, kb["id"], "economy class flights", mode="hybrid")["hits"][0]
    assert best["document_name"] == "travel.txt"
    assert set(best["scores"]) == {"vector", "fulltext", "hybrid"}
    assert best["score"] == pytest.approx(1.0)  # first in both lists


def test_chinese_full_text_search_segments_words(acme_console, kb):
    found = hit_test(acme_console, kb["id"], "住宿发票", mode="fulltext")
    assert [hit["document_name"] for hit in found["hits"]] == ["报销.txt"]


def test_filters_by_tags_and_metadata(acme_console, kb):
    query = "employees laptops hotels 员工"
    tagged = hit_test(acme_console, kb["id"], query, tags=["hr"], top_k=10)
    assert {hit["document_name"] for hit in tagged["hits"]} == {"travel.txt", "报销.txt"}
    both = hit_test(acme_console, kb["id"], query, tags=["hr", "travel"], top_k=10)
    assert {hit["document_name"] for hit in both["hits"]} == {"travel.txt"}
    by_year = hit_test(acme_console, kb["id"], query, metadata={"year": 2026}, top_k=10)
    assert {hit["document_name"] for hit in by_year["hits"]} == {"security.txt"}


def test_top_k_and_the_score_threshold(acme_console, kb):
    assert len(hit_test(acme_console, kb["id"], "employees", top_k=1)["hits"]) == 1
    found = hit_test(acme_console, kb["id"], "economy class flights", mode="vector", top_k=10)
    cut = (found["hits"][0]["score"] + found["hits"][-1]["score"]) / 2
    kept = hit_test(
        acme_console,
        kb["id"],
        "economy class flights",
        mode="vector",
        top_k=10,
        score_threshold=cut,
    )
    assert 1 <= len(kept["hits"]) < len(found["hits"])
    assert all(hit["score"] >= cut for hit in kept["hits"])


def test_rerank_reorders_with_the_rerank_model(acme_console, kb, upstream):
    acme_console.patch(f"/knowledge-bases/{kb['id']}", {"rerank_model": "stub-rerank"})
    plain = hit_test(acme_console, kb["id"], "employees hotels", mode="fulltext", top_k=10)
    count = len(plain["hits"])
    upstream.script("dashscope.rerank", scores([0.1] * (count - 1) + [0.9]))
    reranked = hit_test(
        acme_console, kb["id"], "employees hotels", mode="fulltext", top_k=10, rerank=True
    )
    assert reranked["hits"][0]["chunk_id"] == plain["hits"][-1]["chunk_id"]
    assert reranked["hits"][0]["scores"]["rerank"] == pytest.approx(0.9)


def test_rerank_without_a_rerank_model_is_a_400(acme_console, kb):
    response = acme_console.post(
        f"/knowledge-bases/{kb['id']}/hit-test", {"query": "hotels", "rerank": True}
    )
    assert response.status_code == 400
    assert "rerank" in response.json()["message"]


def test_several_knowledge_bases_at_once(acme_console, kb, upstream):
    other = create_kb(acme_console, "Other")
    upload(acme_console, other["id"], {"canteen.txt": b"The canteen serves lunch at noon."})
    found = hit_test(
        acme_console, kb["id"], "lunch canteen", knowledge_base_ids=[other["id"]], top_k=10
    )
    assert found["hits"][0]["document_name"] == "canteen.txt"
    assert found["hits"][0]["knowledge_base_id"] == other["id"]


def test_bad_hit_tests_are_400s(acme_console, kb):
    path = f"/knowledge-bases/{kb['id']}/hit-test"
    for body in ({"query": ""}, {"query": "x", "top_k": 0}, {"query": "x", "mode": "magic"}):
        response = acme_console.post(path, body)
        assert response.status_code in (400, 422), body
    response = acme_console.post(path, {"query": "   "})
    assert response.status_code == 400
