"""Bodies over the limit answer 413 and uploads with too many files 400 ``TooManyFiles``,
on every surface in its own error shape, naming the limit; nothing of the request is
stored. (Django raised ``RequestDataTooBig`` / ``TooManyFilesSent``, which answered 500.)"""

import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from apps.batch.models import BatchFile
from apps.knowledge.models import Document

pytestmark = pytest.mark.django_db

LIMIT = 256 * 1024
#: A valid JSON body just over LIMIT (the limit is lowered here; the default is 10 MB).
BIG = json.dumps(
    {"model": "m", "name": "x", "messages": [{"role": "user", "content": "a" * LIMIT}]}
)


@pytest.mark.parametrize(
    ("path", "shape"),
    [
        ("/compatible-mode/v1/chat/completions", "openai"),
        ("/compatible-mode/v1/embeddings", "openai"),
        ("/api/v1/services/aigc/text-generation/generation", "dashscope"),
        (f"/api/v1/apps/{uuid.uuid4()}/completion", "dashscope"),
        ("/console/api/knowledge-bases", "dashscope"),
    ],
)
@override_settings(DATA_UPLOAD_MAX_MEMORY_SIZE=LIMIT)
def test_a_body_over_the_limit_answers_413_in_the_surfaces_shape(keyed, path, shape):
    response = keyed("POST", path, BIG)
    assert response.status_code == 413, response.content
    body = response.json()
    if shape == "openai":
        error = body["error"]
        assert (error["code"], error["type"]) == ("request_too_large", "invalid_request_error")
        message = error["message"]
    else:
        assert set(body) == {"code", "message", "request_id"}
        assert body["code"] == "RequestTooLarge"
        message = body["message"]
    assert "0.25 MB" in message and "MINISTUDIO_REQUEST_MAX_MB" in message


def test_the_default_limit_is_10_mb(keyed):
    response = keyed(
        "POST", "/console/api/knowledge-bases", b"[" + b" " * (10 * 1024 * 1024) + b"]"
    )
    assert response.status_code == 413
    assert "10 MB" in response.json()["message"]


def test_more_than_100_files_in_one_upload_is_refused_and_nothing_stored(acme_console, handbook):
    files = {f"note-{i}.txt": b"hello" for i in range(101)}
    response = acme_console.upload(f"/knowledge-bases/{handbook['id']}/documents", files)
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "TooManyFiles"
    assert "at most 100 files" in body["message"]
    assert not Document.objects.exists()

    exactly = {f"note-{i}.txt": b"hello" for i in range(100)}
    assert (
        acme_console.upload(f"/knowledge-bases/{handbook['id']}/documents", exactly).status_code
        == 202
    )


@override_settings(DATA_UPLOAD_MAX_NUMBER_FILES=2)
def test_too_many_files_on_the_openai_files_api(acme_key):
    from django.test import Client

    files = [SimpleUploadedFile(f"{i}.jsonl", b"{}") for i in range(3)]
    response = Client().post(
        "/compatible-mode/v1/files",
        data={"file": files, "purpose": "batch"},
        headers={"Authorization": f"Bearer {acme_key}"},
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "too_many_files"
    assert not BatchFile.objects.exists()
