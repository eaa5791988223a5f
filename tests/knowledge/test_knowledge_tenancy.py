"""Another workspace's knowledge bases, documents and chunks answer 404 on every endpoint,
and nothing of theirs changes."""

import pytest

from apps.knowledge.models import Chunk, Document, KnowledgeBase
from tests.knowledge.conftest import create_kb, upload
from tests.tenancy import assert_foreign_object_is_not_found

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot():
    return (
        list(KnowledgeBase.objects.values_list("id", "name", "chunking", "parser", "retrieval")),
        list(
            Document.objects.values_list(
                "id", "status", "tags", "metadata", "chunk_count", "parser"
            )
        ),
        Chunk.objects.count(),
    )


def test_every_knowledge_endpoint_hides_other_workspaces(acme_console, upstream, acme, globex, bob):
    kb = create_kb(acme_console)
    document = upload(acme_console, kb["id"], {"policy.txt": b"Travel by train."})
    document_id = document["documents"][0]["document"]["id"]
    base = f"/knowledge-bases/{kb['id']}"
    doc = f"{base}/documents/{document_id}"
    for method, path, body in [
        ("GET", base, None),
        ("PATCH", base, {"name": "Taken"}),
        ("DELETE", base, None),
        ("GET", f"{base}/documents", None),
        ("POST", f"{base}/hit-test", {"query": "train"}),
        ("GET", doc, None),
        ("PATCH", doc, {"tags": ["x"]}),
        ("POST", f"{doc}/reindex", None),
        ("POST", f"{doc}/reindex?parser=ocr", None),
        ("PATCH", base, {"parser": "ocr"}),
        ("DELETE", doc, None),
        ("GET", f"{doc}/chunks", None),
    ]:
        assert_foreign_object_is_not_found(
            method=method,
            path=path,
            json=body,
            outsider=bob,
            outsider_workspace=globex,
            owner_workspace=acme,
            snapshot=snapshot,
        )


def test_uploads_into_a_foreign_knowledge_base_are_not_found(acme_console, upstream, bob):
    from tests.console import ConsoleClient

    kb = create_kb(acme_console)
    for slug in ("globex", "acme"):
        response = (
            ConsoleClient()
            .as_user(bob, slug)
            .upload(f"/knowledge-bases/{kb['id']}/documents", {"a.txt": b"hello"})
        )
        assert response.status_code == 404
    assert not Document.objects.exists()


def test_a_hit_test_cannot_reach_into_a_foreign_knowledge_base(acme_console, upstream, bob):
    from tests.console import ConsoleClient

    acme_kb = create_kb(acme_console)
    upload(acme_console, acme_kb["id"], {"secret.txt": b"The launch code is 1234."})
    globex = ConsoleClient().as_user(bob, "globex")
    own = globex.post("/knowledge-bases", {"name": "Mine"}).json()
    response = globex.post(
        f"/knowledge-bases/{own['id']}/hit-test",
        {"query": "launch code", "knowledge_base_ids": [acme_kb["id"]]},
    )
    assert response.status_code == 404
    assert "1234" not in response.content.decode()


def test_lists_show_only_the_own_workspace(acme_console, upstream, bob):
    from tests.console import ConsoleClient

    create_kb(acme_console)
    assert ConsoleClient().as_user(bob, "globex").get("/knowledge-bases").json() == []
