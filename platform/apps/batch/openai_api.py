"""The OpenAI-compatible Files and Batch API under ``/compatible-mode/v1``.

``client.files.create(file=..., purpose="batch")``, ``client.batches.create(...)``,
``client.batches.retrieve(...)``, ``client.files.content(...)`` and the rest of the
official ``openai`` SDK's files and batches calls work against it, as against Bailian.
Callers authenticate with an API key; everything is scoped to the key's workspace.
"""

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, UploadedFile
from pydantic import Field

from apps.batch import selectors, services
from apps.batch.content import file_response
from apps.batch.schemas import BatchIn, BatchList, BatchOut, FileDeleted, FileList, FileOut

router = Router(tags=["batch"])


class PageQuery(Schema):
    after: str | None = None
    limit: int = Field(20, ge=1, le=100)


class FilePageQuery(PageQuery):
    purpose: str | None = None
    limit: int = Field(100, ge=1, le=10_000)


@router.post("/files", response=FileOut)
def upload_file(request: HttpRequest, file: File[UploadedFile], purpose: Form[str]):
    """Upload a JSONL batch input file (``purpose=batch``): at most 500 MB, 50,000 lines
    and 6 MB a line."""
    return FileOut.of(services.upload_file(request.auth.workspace, file, purpose))


@router.get("/files", response=FileList)
def list_files(request: HttpRequest, query: Query[FilePageQuery]):
    files = selectors.files_of(request.auth.workspace, purpose=query.purpose)
    page, has_more = selectors.page_after(files, query.after, query.limit)
    return _listing(FileList, [FileOut.of(f) for f in page], has_more)


@router.get("/files/{file_id}", response=FileOut)
def retrieve_file(request: HttpRequest, file_id: str):
    return FileOut.of(selectors.get_file(request.auth.workspace, file_id))


@router.get("/files/{file_id}/content")
def file_content(request: HttpRequest, file_id: str):
    return file_response(request, selectors.get_file(request.auth.workspace, file_id))


@router.delete("/files/{file_id}", response=FileDeleted)
def delete_file(request: HttpRequest, file_id: str):
    file = selectors.get_file(request.auth.workspace, file_id)
    services.delete_file(file)
    return FileDeleted(id=file_id)


@router.post("/batches", response=BatchOut)
def create_batch(request: HttpRequest, payload: BatchIn):
    workspace = request.auth.workspace
    batch = services.create_batch(
        workspace,
        input_file=selectors.get_file(workspace, payload.input_file_id),
        endpoint=payload.endpoint,
        completion_window=payload.completion_window,
        metadata=payload.metadata,
        api_key=request.auth,
    )
    batch.refresh_from_db()
    return BatchOut.of(batch)


@router.get("/batches", response=BatchList)
def list_batches(request: HttpRequest, query: Query[PageQuery]):
    batches = selectors.batches_of(request.auth.workspace)
    page, has_more = selectors.page_after(batches, query.after, query.limit)
    return _listing(BatchList, [BatchOut.of(b) for b in page], has_more)


@router.get("/batches/{batch_id}", response=BatchOut)
def retrieve_batch(request: HttpRequest, batch_id: str):
    return BatchOut.of(selectors.get_batch(request.auth.workspace, batch_id))


@router.post("/batches/{batch_id}/cancel", response=BatchOut)
def cancel_batch(request: HttpRequest, batch_id: str):
    batch = services.cancel_batch(selectors.get_batch(request.auth.workspace, batch_id))
    batch.refresh_from_db()
    return BatchOut.of(batch)


def _listing(kind, data: list, has_more: bool):
    return kind(
        data=data,
        has_more=has_more,
        first_id=data[0].id if data else None,
        last_id=data[-1].id if data else None,
    )
