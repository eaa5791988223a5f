"""Writes of the batch app: files in and out, batches created, cancelled, resumed."""

import logging
import re
from datetime import timedelta
from typing import Any

from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from apps.accounts.models import ApiKey, User, Workspace
from apps.batch.inputs import batch_storage, scan_upload
from apps.batch.models import (
    UNFINISHED,
    Batch,
    BatchEndpoint,
    BatchEngine,
    BatchFile,
    BatchStatus,
    FilePurpose,
)
from kernel import queueing
from kernel.errors import Conflict, InvalidParameter

logger = logging.getLogger(__name__)

#: Bailian and OpenAI take completion windows from 24 hours to 14 days.
MIN_WINDOW_HOURS, MAX_WINDOW_HOURS = 24, 336
_WINDOW = re.compile(r"^(\d+)([hd])$")
#: A batch queued this long without a worker taking it is queued again (a lost message).
REQUEUE_AFTER = timedelta(minutes=10)
#: A batch that made its worker fail this often is failed rather than tried again.
MAX_ATTEMPTS = 5
#: The batch tasks (``apps.batch.tasks``), sent by name: validate and run over HTTP, and
#: run on a GPU worker's vLLM engine.
RUN_TASK = "batch.run"
RUN_ON_ENGINE_TASK = "batch.run_on_engine"


# --- files --------------------------------------------------------------------------------------


def upload_file(workspace: Workspace, upload: UploadedFile, purpose: str) -> BatchFile:
    """Store an input file after checking it against the limits (size, lines, line length).

    The lines' content is checked when a batch uses the file (``validating``)."""
    if purpose != FilePurpose.BATCH:
        raise InvalidParameter(
            f"purpose: '{purpose}' is not supported; upload batch input files with "
            "purpose 'batch'.",
            param="purpose",
        )
    name = (upload.name or "input.jsonl")[:255]
    upload.seek(0)
    scanned = scan_upload(name, upload.chunks(), upload.size or 0)
    upload.seek(0)
    file = BatchFile(
        workspace=workspace,
        filename=name,
        purpose=FilePurpose.BATCH,
        bytes=scanned.bytes,
        line_count=scanned.line_count,
    )
    file.storage_key = batch_storage().save(f"inputs/{workspace.pk}/{file.pk}.jsonl", upload)
    file.save()
    return file


def delete_file(file: BatchFile) -> None:
    """Delete a file and its content; refused while an unfinished batch reads it."""
    in_use = Batch.objects.filter(input_file=file, status__in=UNFINISHED).first()
    if in_use is not None:
        raise Conflict(
            f"The file is the input of batch {in_use.pk}, which is {in_use.status}; "
            "cancel the batch or wait for it to end.",
            code="file_in_use",
        )
    key = file.storage_key
    file.delete()
    transaction.on_commit(lambda: batch_storage().delete(key))


# --- batches ------------------------------------------------------------------------------------


def window_hours(window: str) -> int:
    """Hours of a completion window such as ``24h`` or ``7d`` (24h to 336h)."""
    match = _WINDOW.match(window.strip())
    hours = int(match[1]) * (24 if match[2] == "d" else 1) if match else 0
    if not MIN_WINDOW_HOURS <= hours <= MAX_WINDOW_HOURS:
        raise InvalidParameter(
            f"completion_window: '{window}' is not a window from 24h to 336h "
            "(hours as '48h', or days as '7d').",
            param="completion_window",
        )
    return hours


def check_metadata(metadata: dict[str, Any] | None) -> None:
    """OpenAI's limits: 16 pairs, keys up to 64 characters, string values up to 512."""
    if not metadata:
        return
    if len(metadata) > 16:
        raise InvalidParameter("metadata: at most 16 key-value pairs.", param="metadata")
    for key, value in metadata.items():
        if len(key) > 64 or not isinstance(value, str) or len(value) > 512:
            raise InvalidParameter(
                "metadata: keys are up to 64 characters, values strings up to 512.",
                param="metadata",
            )


def create_batch(
    workspace: Workspace,
    *,
    input_file: BatchFile,
    endpoint: str,
    completion_window: str,
    metadata: dict[str, Any] | None = None,
    api_key: ApiKey | None = None,
    created_by: User | None = None,
) -> Batch:
    """Queue a batch over ``input_file``; a worker validates it, then runs it."""
    if input_file.purpose != FilePurpose.BATCH:
        raise InvalidParameter(
            f"input_file_id: {input_file.pk} is a batch's output, not an input file "
            "(upload one with purpose 'batch').",
            param="input_file_id",
        )
    if endpoint not in BatchEndpoint.values:
        raise InvalidParameter(
            f"endpoint: '{endpoint}' is not supported; use "
            + " or ".join(f"'{value}'" for value in BatchEndpoint.values)
            + ".",
            param="endpoint",
        )
    hours = window_hours(completion_window)
    check_metadata(metadata)
    batch = Batch.objects.create(
        workspace=workspace,
        input_file=input_file,
        endpoint=endpoint,
        completion_window=completion_window.strip(),
        metadata=metadata or None,
        expires_at=timezone.now() + timedelta(hours=hours),
        api_key=api_key,
        created_by=created_by,
        total=input_file.line_count,
    )
    transaction.on_commit(lambda: enqueue(batch))
    return batch


def cancel_batch(batch: Batch) -> Batch:
    """Ask the batch to stop: ``cancelling`` at once, ``cancelled`` once the lines in flight
    are answered and the partial output is written."""
    with transaction.atomic():
        batch = Batch.objects.select_for_update().get(pk=batch.pk)
        if batch.status in (BatchStatus.CANCELLING, BatchStatus.CANCELLED):
            return batch
        if batch.status not in UNFINISHED:
            raise Conflict(
                f"The batch is {batch.status}; only a running batch can be cancelled.",
                code="batch_not_cancellable",
            )
        batch.status = BatchStatus.CANCELLING
        batch.cancelling_at = timezone.now()
        batch.save(update_fields=["status", "cancelling_at"])
    # A worker running it sees the status at its next checkpoint; otherwise this task
    # finishes it (the lease keeps the two from both doing so).
    transaction.on_commit(lambda: enqueue(batch))
    return batch


def enqueue(batch: Batch) -> None:
    """Send the batch to the queue that can run it."""
    Batch.objects.filter(pk=batch.pk).update(enqueued_at=timezone.now())
    if (
        batch.engine == BatchEngine.VLLM
        and batch.status == BatchStatus.IN_PROGRESS
        and batch.expires_at > timezone.now()
    ):
        queueing.enqueue(RUN_ON_ENGINE_TASK, batch.pk, queue=queueing.BATCH_VLLM)
    else:
        queueing.enqueue(RUN_TASK, batch.pk, queue=queueing.BATCH)


def fail_if_worn_out(batch_id: str, exc: Exception) -> None:
    """Fail the batch if it has made its worker fail ``MAX_ATTEMPTS`` times (``exc`` the
    last time). Otherwise the sweep queues it again."""
    batch = Batch.objects.filter(pk=batch_id).first()
    if batch is None or batch.attempts < MAX_ATTEMPTS:
        return
    Batch.objects.filter(pk=batch_id, status__in=UNFINISHED).update(
        status=BatchStatus.FAILED,
        errors=[
            {
                "code": "internal_error",
                "message": f"The batch failed {batch.attempts} times in its worker: "
                f"{type(exc).__name__}: {exc}",
                "param": None,
                "line": None,
            }
        ],
        lease_owner="",
        lease_expires_at=None,
    )
    return True


def stalled_batches(engine: str | None = None) -> list[Batch]:
    """Unfinished batches nobody is running: a lapsed lease (a dead worker), or queued
    long ago and never taken up (a lost message)."""
    now = timezone.now()
    found = Batch.objects.filter(status__in=UNFINISHED).filter(
        Q(lease_expires_at__lt=now)
        | Q(lease_expires_at__isnull=True, enqueued_at__lt=now - REQUEUE_AFTER)
        | Q(lease_expires_at__isnull=True, enqueued_at__isnull=True)
    )
    if engine is not None:
        found = found.filter(engine=engine)
    return list(found)


def resume_stalled(engine: str | None = None) -> int:
    """Queue the stalled batches again; how many."""
    stalled = stalled_batches(engine)
    for batch in stalled:
        logger.info("Resuming batch %s (%s, lease %s)", batch.pk, batch.status, batch.lease_owner)
        enqueue(batch)
    return len(stalled)
