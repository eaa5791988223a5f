"""Serving a stored file's content as a download, streamed from storage.

Under ASGI (production: uvicorn) the file is read through an async iterator, a chunk at a
time off the event loop. A plain ``FileResponse`` there is a sync iterator, which Django's
ASGI handler reads *whole* into memory before sending: a 500 MB batch file would sit in
the web process. Under WSGI (tests' client, a WSGI server) ``FileResponse`` streams as is.
"""

from collections.abc import AsyncIterator
from typing import IO

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import FileResponse, HttpRequest, StreamingHttpResponse
from django.utils.http import content_disposition_header

from apps.batch.inputs import batch_storage
from apps.batch.models import BatchFile
from kernel.errors import NotFound

CHUNK_BYTES = 256 * 1024
CONTENT_TYPE = "application/jsonl"


def file_response(request: HttpRequest, file: BatchFile) -> StreamingHttpResponse:
    try:
        stored = batch_storage().open(file.storage_key, "rb")
    except FileNotFoundError:
        raise NotFound("The file's content is missing from storage.") from None
    if not isinstance(request, ASGIRequest):
        return FileResponse(
            stored, as_attachment=True, filename=file.filename, content_type=CONTENT_TYPE
        )
    response = StreamingHttpResponse(_chunks(stored), content_type=CONTENT_TYPE)
    response["Content-Length"] = str(stored.size)
    response["Content-Disposition"] = content_disposition_header(True, file.filename)
    return response


async def _chunks(stored: IO[bytes]) -> AsyncIterator[bytes]:
    read = sync_to_async(stored.read, thread_sensitive=False)
    try:
        while chunk := await read(CHUNK_BYTES):
            yield chunk
    finally:
        await sync_to_async(stored.close, thread_sensitive=False)()
