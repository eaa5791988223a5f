"""Knowledge bases through the console API: create, read, change, delete; the per-knowledge-
base HNSW index is made and dropped with it, and retrieval uses it."""

import pytest
from django.db import connection

from apps.knowledge import vector_index
from apps.knowledge.models import KnowledgeBase
from tests.console import ConsoleClient
from tests.knowledge.conftest import DIMENSION, create_kb

pytestmark = pytest.mark.django_db


def test_create_uses_the_workspace_default_embedding_model(acme_console):
    kb = create_kb(acme_console, description="Policies")
    assert kb["embedding_model"] == "stub-embed"
    assert kb["embedding_dimension"] == DIMENSION
    assert kb["chunking"] == {
        "mode": "auto",
        "chunk_size": 512,
        "chunk_overlap": 64,
        "separator_regex": None,
    }
    assert kb["retrieval"]["mode"] == "hybrid"
    assert (kb["document_count"], kb["chunk_count"]) == (0, 0)
    assert acme_console.get("/knowledge-bases").json()[0]["id"] == kb["id"]


def test_the_index_is_created_and_dropped_with_the_knowledge_base(acme_console):
    kb = create_kb(acme_console)
    knowledge_base = KnowledgeBase.objects.get(pk=kb["id"])
    assert vector_index.index_exists(knowledge_base)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE indexname = %s",
            [vector_index.index_name(knowledge_base)],
        )
        definition = cursor.fetchone()[0]
    assert f"(embedding)::vector({DIMENSION})" in definition
    assert "vector_cosine_ops" in definition
    assert f"knowledge_base_id = '{kb['id']}'" in definition

    assert acme_console.delete(f"/knowledge-bases/{kb['id']}").status_code == 204
    assert not vector_index.index_exists(knowledge_base)
    assert not KnowledgeBase.objects.filter(pk=kb["id"]).exists()


def fill_with_random_vectors(knowledge_base: KnowledgeBase, count: int) -> None:
    """``count`` chunks with random vectors in one document, straight in SQL, then ANALYZE:
    the planner needs real statistics to choose an index over a scan."""
    from django.utils import timezone

    from apps.knowledge.models import Document

    document = Document.objects.create(
        workspace=knowledge_base.workspace,
        knowledge_base=knowledge_base,
        name="random.txt",
        size=1,
        loader="text",
        checksum="0" * 64,
        storage_key="none",
        queued_at=timezone.now(),
    )
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO knowledge_chunk
                (workspace_id, knowledge_base_id, document_id, ordinal, text, token_count,
                 metadata, embedding)
            SELECT %s, %s, %s, g, 'chunk ' || g, 2, '{}',
                   (SELECT array_agg(random() + 0 * g + 0 * i)
                    FROM generate_series(1, %s) AS i)::vector
            FROM generate_series(1, %s) AS g
            """,
            [knowledge_base.workspace_id, knowledge_base.pk, document.pk, DIMENSION, count],
        )
        cursor.execute("ANALYZE knowledge_chunk")


def test_retrieval_uses_the_knowledge_bases_index(acme_console):
    from psycopg import sql

    kb = create_kb(acme_console)
    knowledge_base = KnowledgeBase.objects.get(pk=kb["id"])
    fill_with_random_vectors(knowledge_base, 3000)
    statement = vector_index.nearest_sql(knowledge_base, sql.SQL("TRUE"), 10)
    query_vector = "[" + ",".join(["0.1"] * DIMENSION) + "]"
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("EXPLAIN ") + statement, [query_vector, query_vector])
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert f"Index Scan using {vector_index.index_name(knowledge_base)}" in plan, plan


def test_the_embedding_model_is_fixed_after_creation(acme_console):
    kb = create_kb(acme_console)
    response = acme_console.patch(f"/knowledge-bases/{kb['id']}", {"embedding_model": "other"})
    assert response.status_code == 400
    assert "fixed after creation" in response.json()["message"]


def test_settings_change_and_are_validated(acme_console):
    kb = create_kb(acme_console)
    changed = acme_console.patch(
        f"/knowledge-bases/{kb['id']}",
        {
            "name": "Renamed",
            "chunking": {"mode": "length", "chunk_size": 256, "chunk_overlap": 32},
            "retrieval": {"mode": "vector", "top_k": 3},
            "rerank_model": "stub-rerank",
        },
    ).json()
    assert changed["name"] == "Renamed"
    assert changed["chunking"]["chunk_size"] == 256
    assert changed["retrieval"]["top_k"] == 3
    assert changed["rerank_model"] == "stub-rerank"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"chunking": {"chunk_size": 100, "chunk_overlap": 100}}, "chunking"),
        ({"chunking": {"mode": "regex"}}, "chunking"),
        ({"chunking": {"mode": "sentences"}}, "chunking"),
        ({"retrieval": {"top_k": 0}}, "retrieval"),
        ({"embedding_model": "no-such-model"}, "embedding_model"),
        ({"embedding_model": "stub-rerank"}, "embedding_model"),
        ({"rerank_model": "stub-embed"}, "rerank_model"),
    ],
)
def test_bad_settings_are_400s_that_name_the_field(acme_console, fields, message):
    response = acme_console.post("/knowledge-bases", {"name": "Bad", **fields})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "InvalidParameter"
    assert message in response.json()["message"]
    assert not KnowledgeBase.objects.exists()


def test_a_duplicate_name_is_a_conflict(acme_console):
    create_kb(acme_console, "Handbook")
    response = acme_console.post("/knowledge-bases", {"name": "Handbook"})
    assert response.status_code == 409


def test_without_an_embedding_model_the_workspace_is_told_why(alice, acme, db):
    response = ConsoleClient().as_user(alice, "acme").post("/knowledge-bases", {"name": "X"})
    assert response.status_code == 400
    assert "no embedding model" in response.json()["message"]


def test_viewers_read_but_do_not_change(acme_console, vera):
    kb = create_kb(acme_console)
    viewer = ConsoleClient().as_user(vera, "acme")
    assert viewer.get(f"/knowledge-bases/{kb['id']}").status_code == 200
    assert viewer.post("/knowledge-bases", {"name": "Mine"}).status_code == 403
    assert viewer.delete(f"/knowledge-bases/{kb['id']}").status_code == 403
    assert (
        viewer.upload(f"/knowledge-bases/{kb['id']}/documents", {"a.txt": b"x"}).status_code == 403
    )


def test_platform_admins_see_knowledge_bases_in_the_admin(acme_console, root):
    from django.test import Client

    kb = create_kb(acme_console, "Visible in admin")
    admin = Client()
    admin.force_login(root)
    listing = admin.get("/admin/knowledge/knowledgebase/")
    assert listing.status_code == 200 and "Visible in admin" in listing.content.decode()
    assert admin.get(f"/admin/knowledge/knowledgebase/{kb['id']}/change/").status_code == 200
    assert admin.get(f"/admin/knowledge/knowledgebase/{kb['id']}/delete/").status_code == 403
    assert admin.get("/admin/knowledge/document/").status_code == 200
