"""Images read by OCR through the platform, the parser a knowledge base and an upload
choose, and what a document reports while and after its pages are read (Celery runs
eagerly here: an upload's ingestion runs when its transaction commits)."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.knowledge import ingestion
from apps.knowledge.models import Chunk, Document, KnowledgeBase
from tests.knowledge.conftest import create_kb, upload
from tests.knowledge.test_ingestion_queue import queued_document
from tests.plugins.ocr_images import encoded, text_image

pytestmark = pytest.mark.django_db(transaction=True)  # ingestion is dispatched on commit

RECEIPT = encoded(text_image(["Receipt for the conference hotel", "Total 412 euros"]))


def document(console, kb_id, document_id):
    response = console.get(f"/knowledge-bases/{kb_id}/documents/{document_id}")
    assert response.status_code == 200
    return response.json()


def test_an_image_is_read_by_ocr_and_its_chunks_say_so(acme_console, upstream):
    kb = create_kb(acme_console)
    assert kb["parser"] == "auto"
    uploaded = upload(acme_console, kb["id"], {"receipt.png": RECEIPT})["documents"][0]
    ready = document(acme_console, kb["id"], uploaded["document"]["id"])
    assert (ready["status"], ready["loader"], ready["parser"]) == ("ready", "image", "auto")
    assert (ready["pages_done"], ready["pages_total"], ready["warnings"]) == (1, 1, [])
    chunk = Chunk.objects.get(document_id=ready["id"])
    assert "Total 412 euros" in chunk.text
    assert chunk.metadata["ocr"] is True and 0.9 < chunk.metadata["ocr_confidence"] <= 1


def test_an_image_under_the_text_layer_parser_fails_and_reindexing_with_ocr_reads_it(
    acme_console, upstream
):
    kb = create_kb(acme_console, parser="text")
    uploaded = upload(acme_console, kb["id"], {"receipt.png": RECEIPT})["documents"][0]
    failed = document(acme_console, kb["id"], uploaded["document"]["id"])
    assert (failed["status"], failed["parser"]) == ("failed", "text")
    assert "no text layer" in failed["error"] and "OCR every page" in failed["error"]

    response = acme_console.post(
        f"/knowledge-bases/{kb['id']}/documents/{failed['id']}/reindex?parser=ocr", {}
    )
    assert response.status_code == 202
    again = document(acme_console, kb["id"], failed["id"])
    assert (again["status"], again["parser"], again["error"]) == ("ready", "ocr", "")


def test_an_upload_chooses_its_own_parser_over_the_knowledge_bases(acme_console, upstream):
    kb = create_kb(acme_console, parser="text")
    uploaded = upload(acme_console, kb["id"], {"receipt.png": RECEIPT}, parser="ocr")
    assert uploaded["documents"][0]["document"]["parser"] == "ocr"
    assert Document.objects.get().status == "ready"


def test_a_page_the_loader_could_not_read_is_a_warning_on_a_ready_document(acme_console, upstream):
    response = acme_console.patch("/plugins/loader/image", {"settings": {"ocr_max_pages": 1}})
    assert response.status_code == 200, response.content
    pages = [text_image(["Minutes of the first meeting"]), text_image(["Second page"])]
    tiff = encoded(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    kb = create_kb(acme_console)
    uploaded = upload(acme_console, kb["id"], {"minutes.tiff": tiff})["documents"][0]
    ready = document(acme_console, kb["id"], uploaded["document"]["id"])
    assert ready["status"] == "ready"
    assert ready["warnings"] == [
        "only the first 1 of 2 pages were read (the image loader's ocr_max_pages setting)"
    ]
    assert (ready["pages_done"], ready["pages_total"]) == (1, 1)


def test_the_parser_of_a_knowledge_base_can_be_changed_for_later_uploads(acme_console, upstream):
    kb = create_kb(acme_console)
    response = acme_console.patch(f"/knowledge-bases/{kb['id']}", {"parser": "ocr"})
    assert (response.status_code, response.json()["parser"]) == (200, "ocr")
    uploaded = upload(acme_console, kb["id"], {"receipt.png": RECEIPT})
    assert uploaded["documents"][0]["document"]["parser"] == "ocr"


@pytest.mark.parametrize("where", ["create", "update", "upload", "reindex"])
def test_an_unknown_parser_is_refused_and_nothing_changes(acme_console, upstream, where):
    kb = create_kb(acme_console)
    if where == "create":
        response = acme_console.post("/knowledge-bases", {"name": "Other", "parser": "magic"})
    elif where == "update":
        response = acme_console.patch(f"/knowledge-bases/{kb['id']}", {"parser": "magic"})
    elif where == "upload":
        response = acme_console.upload(
            f"/knowledge-bases/{kb['id']}/documents", {"receipt.png": RECEIPT}, parser="magic"
        )
    else:
        stored = upload(acme_console, kb["id"], {"receipt.png": RECEIPT})["documents"][0]
        response = acme_console.post(
            f"/knowledge-bases/{kb['id']}/documents/{stored['document']['id']}/reindex"
            "?parser=magic",
            {},
        )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "InvalidParameter"
    assert "parser" in response.json()["message"]
    assert acme_console.get(f"/knowledge-bases/{kb['id']}").json()["parser"] == "auto"
    assert Document.objects.exclude(status="ready").count() == 0


def test_an_image_named_oddly_is_known_by_its_content(acme_console, upstream):
    kb = create_kb(acme_console)
    uploaded = upload(acme_console, kb["id"], {"scan": RECEIPT})["documents"][0]
    assert uploaded["document"]["loader"] == "image"


def test_a_claim_stays_leased_while_its_documents_are_read(acme_console, upstream, settings):
    """A loader may read one page for longer than the lease (OCR on a busy machine): the
    claim is renewed on a thread while it reads, so no other run takes the document."""
    settings.KNOWLEDGE_INGEST_LEASE_SECONDS = 1
    kb = KnowledgeBase.objects.get(pk=create_kb(acme_console)["id"])
    document = queued_document(kb, "scan.png")
    leased_until = timezone.now() + timedelta(seconds=1)
    Document.objects.filter(pk=document.pk).update(
        status="parsing", claimed_by="run-slow", lease_expires_at=leased_until
    )
    with ingestion._lease_kept("run-slow", [document.pk]):
        deadline = time.monotonic() + 30
        while Document.objects.get(pk=document.pk).lease_expires_at <= leased_until:
            assert time.monotonic() < deadline, "the lease was never renewed"
            time.sleep(0.05)
    assert Document.objects.get(pk=document.pk).claimed_by == "run-slow"
