"""Uploading documents and what ingestion makes of them (Celery runs eagerly here: the
upload's ingestion tokens run when its transaction commits)."""

import io

import pytest
from django.core.files.storage import storages

from apps.knowledge import ingestion, tasks
from apps.knowledge.models import Chunk, Document, PendingChunk
from tests.knowledge.conftest import create_kb, upload
from tests.upstream import error

pytestmark = pytest.mark.django_db(transaction=True)  # ingestion is dispatched on commit

POLICY = (
    "Travel policy\n\nEmployees book economy class for flights under six hours.\n\n"
    "Hotel stays are reimbursed up to 150 euros a night in most cities.\n"
)
CHINESE = (
    "差旅制度\n\n员工乘坐六小时以内的航班一律预订经济舱。\n\n酒店住宿每晚报销上限为一百五十欧元。\n"
)


def documents(console, kb_id):
    response = console.get(f"/knowledge-bases/{kb_id}/documents")
    assert response.status_code == 200
    return {d["name"]: d for d in response.json()["items"]}


def test_many_files_upload_at_once_and_become_ready(acme_console, upstream):
    kb = create_kb(acme_console)
    answer = upload(
        acme_console,
        kb["id"],
        {"policy.txt": POLICY.encode(), "制度.txt": CHINESE.encode("gb18030")},
        tags="hr,travel",
        metadata='{"department": "HR"}',
    )
    assert [(d["name"], d["duplicate"]) for d in answer["documents"]] == [
        ("policy.txt", False),
        ("制度.txt", False),
    ]
    listed = documents(acme_console, kb["id"])
    for name in ("policy.txt", "制度.txt"):
        document = listed[name]
        assert (document["status"], document["progress"], document["error"]) == ("ready", 100, "")
        assert document["chunk_count"] >= 1
        assert document["tags"] == ["hr", "travel"]
        assert document["metadata"] == {"department": "HR"}
        assert set(document["timings"]) >= {"parse_ms", "chunk_ms", "embed_ms", "store_ms"}
    chunks = acme_console.get(
        f"/knowledge-bases/{kb['id']}/documents/{listed['制度.txt']['id']}/chunks"
    ).json()
    assert "经济舱" in "".join(chunk["text"] for chunk in chunks["items"])
    assert all(chunk["token_count"] > 0 for chunk in chunks["items"])
    assert acme_console.get(f"/knowledge-bases/{kb['id']}").json()["document_count"] == 2


def test_the_same_content_twice_is_reported_not_ingested_again(acme_console, upstream):
    kb = create_kb(acme_console)
    first = upload(acme_console, kb["id"], {"policy.txt": POLICY.encode()})["documents"][0]
    again = upload(acme_console, kb["id"], {"copy.txt": POLICY.encode()})["documents"][0]
    assert again["duplicate"] is True
    assert again["document"]["id"] == first["document"]["id"]
    assert Document.objects.count() == 1
    assert len(upstream.requests_for("embeddings")) == 1


def test_an_unsupported_type_is_refused_with_the_supported_list(acme_console, upstream):
    kb = create_kb(acme_console)
    response = acme_console.upload(
        f"/knowledge-bases/{kb['id']}/documents",
        {"ok.txt": b"fine", "slides.key": b"PK\x03\x04Index/Slide.iwa"},
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "UnsupportedFileType"
    assert "slides.key" in body["message"] and ".txt" in body["message"]
    assert not Document.objects.exists()  # the good file was not stored either


def test_a_file_over_the_limit_is_a_413(acme_console, upstream, settings):
    settings.KNOWLEDGE_UPLOAD_MAX_BYTES = 100
    kb = create_kb(acme_console)
    response = acme_console.upload(
        f"/knowledge-bases/{kb['id']}/documents", {"big.txt": b"x" * 101}
    )
    assert response.status_code == 413
    assert response.json()["code"] == "FileTooLarge"
    assert not Document.objects.exists()


def test_bad_upload_fields_are_400s(acme_console, upstream):
    kb = create_kb(acme_console)
    path = f"/knowledge-bases/{kb['id']}/documents"
    response = acme_console.upload(path, {"a.txt": b"x"}, metadata="[1, 2]")
    assert (response.status_code, response.json()["code"]) == (400, "InvalidParameter")
    response = acme_console.upload(path, {"a.txt": b"x"}, metadata="{not json")
    assert (response.status_code, response.json()["code"]) == (400, "InvalidParameter")
    response = acme_console.client.post(
        "/console/api" + path, data={}, headers=acme_console.headers
    )
    assert response.status_code in (400, 422)
    assert not Document.objects.exists()


def test_an_empty_file_fails_with_a_reason_and_harms_nothing(acme_console, upstream):
    kb = create_kb(acme_console)
    upload(acme_console, kb["id"], {"empty.txt": b"", "policy.txt": POLICY.encode()})
    listed = documents(acme_console, kb["id"])
    assert listed["empty.txt"]["status"] == "failed"
    assert "No text" in listed["empty.txt"]["error"]
    assert listed["policy.txt"]["status"] == "ready"


def test_binary_junk_named_txt_fails_with_the_loaders_reason(acme_console, upstream):
    kb = create_kb(acme_console)
    upload(acme_console, kb["id"], {"junk.txt": b"\x00\x01\x02binary\x00"})
    failed = documents(acme_console, kb["id"])["junk.txt"]
    assert failed["status"] == "failed"
    assert "binary" in failed["error"]


def test_a_refusing_embedding_model_fails_the_document(acme_console, upstream):
    kb = create_kb(acme_console)
    upstream.script("embeddings", error(400, "input too long", code="invalid_request"))
    upload(acme_console, kb["id"], {"policy.txt": POLICY.encode()})
    failed = documents(acme_console, kb["id"])["policy.txt"]
    assert failed["status"] == "failed"
    assert "refused" in failed["error"]
    assert not Chunk.objects.exists()


def test_a_busy_embedding_model_is_retried_by_the_same_run(acme_console, upstream):
    kb = create_kb(acme_console)
    upstream.script("embeddings", error(503, "overloaded"), error(429, "slow down"))
    # The eager token hits the 503 and asks Celery to retry it; its slice's claim stands.
    upload(acme_console, kb["id"], {"policy.txt": POLICY.encode()})
    document = Document.objects.get()
    assert (document.status, document.attempts, document.chunks_done) == ("embedding", 1, 0)
    (run,) = set(PendingChunk.objects.values_list("claimed_by", flat=True))
    assert run

    with pytest.raises(ingestion.TransientFailure, match="slow down"):
        ingestion.ingest_next(run)  # the retry: same run, same slice
    assert ingestion.ingest_next(run).ready == [str(document.pk)]  # the upstream recovered

    document.refresh_from_db()
    assert (document.status, document.attempts, document.claimed_by) == ("ready", 1, "")
    assert (document.chunks_done, document.chunks_total) == (1, 1)
    assert not PendingChunk.objects.exists()
    assert len(upstream.requests_for("embeddings")) == 3


def test_when_retries_are_spent_the_document_fails(acme_console, upstream):
    kb = create_kb(acme_console)
    upstream.script("embeddings", *[error(503, "overloaded")] * 2)
    upload(acme_console, kb["id"], {"policy.txt": POLICY.encode()})
    (run,) = set(PendingChunk.objects.values_list("claimed_by", flat=True))
    tasks.ingest_next.apply(task_id=run, retries=tasks.MAX_RETRIES)
    document = Document.objects.get()
    assert document.status == "failed"
    assert "Gave up after" in document.error and "overloaded" in document.error


def test_reindexing_replaces_the_chunks_without_duplicates(acme_console, upstream):
    kb = create_kb(acme_console)
    document = upload(acme_console, kb["id"], {"policy.txt": POLICY.encode()})["documents"][0]
    before = list(Chunk.objects.values_list("ordinal", "text"))
    path = f"/knowledge-bases/{kb['id']}/documents/{document['document']['id']}"
    response = acme_console.post(f"{path}/reindex")
    assert response.status_code == 202
    assert acme_console.get(path).json()["status"] == "ready"
    assert list(Chunk.objects.values_list("ordinal", "text")) == before


def test_deleting_a_document_removes_its_chunks_and_file(acme_console, upstream):
    kb = create_kb(acme_console)
    kept, gone = upload(
        acme_console, kb["id"], {"keep.txt": b"keep this", "drop.txt": POLICY.encode()}
    )["documents"]
    stored = Document.objects.get(pk=gone["document"]["id"]).storage_key
    assert storages["documents"].exists(stored)
    path = f"/knowledge-bases/{kb['id']}/documents/{gone['document']['id']}"
    assert acme_console.delete(path).status_code == 204
    assert acme_console.get(path).status_code == 404
    assert not Chunk.objects.filter(document_id=gone["document"]["id"]).exists()
    assert Chunk.objects.filter(document_id=kept["document"]["id"]).exists()
    assert not storages["documents"].exists(stored)


def test_deleting_a_knowledge_base_removes_everything_of_it(acme_console, upstream):
    kb = create_kb(acme_console)
    upload(acme_console, kb["id"], {"policy.txt": POLICY.encode()})
    stored = Document.objects.get().storage_key
    assert acme_console.delete(f"/knowledge-bases/{kb['id']}").status_code == 204
    assert not Document.objects.exists() and not Chunk.objects.exists()
    assert not storages["documents"].exists(stored)


def test_tags_and_metadata_change(acme_console, upstream):
    kb = create_kb(acme_console)
    document = upload(acme_console, kb["id"], {"policy.txt": POLICY.encode()})["documents"][0]
    path = f"/knowledge-bases/{kb['id']}/documents/{document['document']['id']}"
    changed = acme_console.patch(path, {"tags": ["b", "a", "a"], "metadata": {"year": 2026}})
    assert changed.json()["tags"] == ["a", "b"]
    assert changed.json()["metadata"] == {"year": 2026}


def test_a_file_without_a_useful_name_is_sniffed(acme_console, upstream):
    from tests.plugins.pdfs import build_pdf

    kb = create_kb(acme_console)
    pdf = build_pdf([[(72, 720, "Quarterly report")]])
    answer = upload(acme_console, kb["id"], {"scan-0001": pdf})
    assert answer["documents"][0]["document"]["loader"] == "pdf"
    assert documents(acme_console, kb["id"])["scan-0001"]["status"] == "ready"


def test_a_deck_without_a_useful_name_is_sniffed_as_pptx(acme_console, upstream):
    import pptx

    deck = pptx.Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Quarterly review"
    slide.placeholders[1].text_frame.text = "Revenue grew 12%"
    out = io.BytesIO()
    deck.save(out)
    kb = create_kb(acme_console)
    answer = upload(acme_console, kb["id"], {"attachment.bin": out.getvalue()})
    assert answer["documents"][0]["document"]["loader"] == "pptx"
    assert documents(acme_console, kb["id"])["attachment.bin"]["status"] == "ready"
