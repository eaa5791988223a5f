"""Downloads stream from storage: under ASGI through an async iterator (a sync one would be
read whole into the web process's memory by Django's ASGI handler), under WSGI as a
FileResponse."""

import asyncio
import warnings

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncRequestFactory, RequestFactory

from apps.batch import content, services
from tests.batch.conftest import chat_line, jsonl

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_file(acme):
    lines = [chat_line(f"r{i}", "x" * 1000) for i in range(600)]  # ~0.7 MB: several chunks
    data = jsonl(lines).getvalue()
    return services.upload_file(acme, SimpleUploadedFile("in.jsonl", data), "batch"), data


def test_under_asgi_the_file_streams_through_an_async_iterator(stored_file):
    file, data = stored_file
    request = AsyncRequestFactory().get("/")
    response = content.file_response(request, file)
    assert response.is_async
    assert response["Content-Length"] == str(len(data))
    assert response["Content-Disposition"] == 'attachment; filename="in.jsonl"'

    async def read() -> list[bytes]:
        return [chunk async for chunk in response]

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # Django warns when it must buffer a sync iterator
        chunks = asyncio.run(read())
    assert len(chunks) > 1 and max(map(len, chunks)) <= content.CHUNK_BYTES
    assert b"".join(chunks) == data


def test_under_wsgi_it_is_a_file_response(stored_file):
    file, data = stored_file
    response = content.file_response(RequestFactory().get("/"), file)
    assert not response.is_async
    assert b"".join(response.streaming_content) == data
    response.close()
