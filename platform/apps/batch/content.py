"""Serving a stored file's content as a download, streamed from storage."""

from django.http import FileResponse

from apps.batch.inputs import batch_storage
from apps.batch.models import BatchFile
from studio.errors import NotFound


def file_response(file: BatchFile) -> FileResponse:
    try:
        stored = batch_storage().open(file.storage_key, "rb")
    except FileNotFoundError:
        raise NotFound("The file's content is missing from storage.") from None
    return FileResponse(
        stored,
        as_attachment=True,
        filename=file.filename,
        content_type="application/jsonl",
    )
