"""Console API: batch input files and batches (the console's Batch page).

The objects are the ones the OpenAI-compatible surface serves (``apps.batch.schemas``);
here a signed-in member acts for the workspace the console has selected.
"""

from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from apps.accounts.context import caller_user, workspace_context
from apps.accounts.permissions import Permission
from apps.batch import selectors, services
from apps.batch.content import file_response
from apps.batch.schemas import BatchIn, BatchOut, FileDeleted, FileOut
from kernel.paging import PageSize

router = Router(tags=["batch"])


class ListQuery(Schema):
    after: str | None = Field(None, description="The last id of the previous page.")
    limit: PageSize = 50


class FileListQuery(ListQuery):
    purpose: str | None = None


def _workspace(request: HttpRequest, permission: Permission):
    ctx = workspace_context(request)
    ctx.require(permission)
    return ctx.workspace


@router.get("/batch-files", response=list[FileOut])
def list_batch_files(request: HttpRequest, query: Query[FileListQuery]):
    workspace = _workspace(request, Permission.VIEW_WORKSPACE)
    files = selectors.files_of(workspace, purpose=query.purpose)
    page, _ = selectors.page_after(files, query.after, query.limit)
    return [FileOut.of(f) for f in page]


@router.post("/batch-files", response={201: FileOut})
def upload_batch_file(request: HttpRequest, file: File[UploadedFile], purpose: Form[str] = "batch"):
    """Upload a JSONL input file (at most 500 MB, 50,000 lines, 6 MB a line)."""
    workspace = _workspace(request, Permission.EDIT_APPS)
    return Status(201, FileOut.of(services.upload_file(workspace, file, purpose)))


@router.get("/batch-files/{file_id}", response=FileOut)
def get_batch_file(request: HttpRequest, file_id: str):
    workspace = _workspace(request, Permission.VIEW_WORKSPACE)
    return FileOut.of(selectors.get_file(workspace, file_id))


@router.get("/batch-files/{file_id}/content")
def batch_file_content(request: HttpRequest, file_id: str):
    """The file itself, as a download."""
    workspace = _workspace(request, Permission.VIEW_WORKSPACE)
    return file_response(request, selectors.get_file(workspace, file_id))


@router.delete("/batch-files/{file_id}", response=FileDeleted)
def delete_batch_file(request: HttpRequest, file_id: str):
    workspace = _workspace(request, Permission.EDIT_APPS)
    services.delete_file(selectors.get_file(workspace, file_id))
    return FileDeleted(id=file_id)


@router.get("/batches", response=list[BatchOut])
def list_batches(request: HttpRequest, query: Query[ListQuery]):
    workspace = _workspace(request, Permission.VIEW_WORKSPACE)
    page, _ = selectors.page_after(selectors.batches_of(workspace), query.after, query.limit)
    return [BatchOut.of(b) for b in page]


@router.post("/batches", response={201: BatchOut})
def create_batch(request: HttpRequest, payload: BatchIn):
    workspace = _workspace(request, Permission.EDIT_APPS)
    batch = services.create_batch(
        workspace,
        input_file=selectors.get_file(workspace, payload.input_file_id),
        endpoint=payload.endpoint,
        completion_window=payload.completion_window,
        metadata=payload.metadata,
        created_by=caller_user(request),
    )
    batch.refresh_from_db()
    return Status(201, BatchOut.of(batch))


@router.get("/batches/{batch_id}", response=BatchOut)
def get_batch(request: HttpRequest, batch_id: str):
    workspace = _workspace(request, Permission.VIEW_WORKSPACE)
    return BatchOut.of(selectors.get_batch(workspace, batch_id))


@router.post("/batches/{batch_id}/cancel", response=BatchOut)
def cancel_batch(request: HttpRequest, batch_id: str):
    workspace = _workspace(request, Permission.EDIT_APPS)
    batch = services.cancel_batch(selectors.get_batch(workspace, batch_id))
    batch.refresh_from_db()
    return BatchOut.of(batch)
