"""Reads of the batch app, always inside one workspace."""

from django.db.models import QuerySet

from apps.accounts.models import Workspace
from apps.accounts.tenancy import get_in_workspace
from apps.batch.models import Batch, BatchFile


def files_of(workspace: Workspace, *, purpose: str | None = None) -> QuerySet[BatchFile]:
    files = BatchFile.objects.in_workspace(workspace)
    return files.filter(purpose=purpose) if purpose else files


def get_file(workspace: Workspace, file_id: str) -> BatchFile:
    return get_in_workspace(BatchFile, workspace, pk=file_id)


def batches_of(workspace: Workspace) -> QuerySet[Batch]:
    return Batch.objects.in_workspace(workspace)


def get_batch(workspace: Workspace, batch_id: str) -> Batch:
    return get_in_workspace(Batch, workspace, pk=batch_id)


def page_after(queryset: QuerySet, after: str | None, limit: int) -> tuple[list, bool]:
    """Newest first, starting after the object ``after`` (OpenAI's cursor pagination):
    the page and whether more follow. An unknown cursor starts from the top."""
    if after:
        cursor = queryset.filter(pk=after).values_list("created_at", flat=True).first()
        if cursor is not None:
            queryset = queryset.filter(created_at__lt=cursor)
    page = list(queryset.order_by("-created_at")[: limit + 1])
    return page[:limit], len(page) > limit
