"""Running a batch: claim it, validate its file, answer its lines, write its files.

A worker claims a batch with a lease (``apps.batch.leases``) and renews it at every
checkpoint (``apps.batch.checkpoints``). Each answered line is stored as it arrives
(``BatchResult``, unique per line); checkpoints, every ``CHECKPOINT_SECONDS``, refresh
``request_counts`` and the lease. A worker that dies stops renewing; once its lease lapses
the sweep (and any batch worker starting up) hands the batch to another, which skips the
lines already answered. A line in flight when the worker died is sent again; none is lost
or written twice.

Between checkpoints the runner reads the batch's status: ``cancelling`` stops new lines
(those in flight finish) and ends the batch ``cancelled`` with partial output; passing
``expires_at`` ends it ``expired``, the lines not done reported as ``batch_expired``.
"""

import logging
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.batch import answering, services
from apps.batch.checkpoints import CHECKPOINT_SECONDS, Checkpoint, counts, expired
from apps.batch.engine_runner import run_on_engine
from apps.batch.inputs import parsed_lines, stored_lines
from apps.batch.leases import LeaseLost, claim, owner_name, release, renew
from apps.batch.lines import BatchLine
from apps.batch.models import Batch, BatchEngine, BatchStatus
from apps.batch.outputs import write_result_files
from apps.batch.validation import validate_lines

logger = logging.getLogger(__name__)


def run_in_worker(batch_id: str, task_id: str | None, *, on_engine: bool) -> str:
    """What a batch task runs: the batch, under a lease named after this task. A batch that
    made its worker fail ``services.MAX_ATTEMPTS`` times is failed rather than tried again."""
    try:
        return run_batch(batch_id, owner_name(task_id), on_engine=on_engine)
    except Exception as exc:
        logger.exception("Batch %s failed in its worker", batch_id)
        services.fail_if_worn_out(batch_id, exc)
        raise


# --- the run ------------------------------------------------------------------------------------


def run_batch(batch_id: str, owner: str, *, on_engine: bool = False) -> str:
    """Take the batch as far as this worker can; what happened, in a word, for the log.

    ``on_engine``: this worker has the vLLM engine (queue ``batch-vllm``). A batch for an
    engine endpoint found by a plain worker is handed to that queue after validation.
    """
    if not claim(batch_id, owner):
        return "busy"
    try:
        batch = Batch.objects.select_related("input_file", "workspace", "api_key").get(pk=batch_id)
        if batch.status == BatchStatus.VALIDATING:
            if expired(batch):
                return _finish(batch, owner, BatchStatus.EXPIRED)
            if not _validate(batch, owner):
                return "failed"
        if batch.status == BatchStatus.IN_PROGRESS and not expired(batch):
            if batch.engine == BatchEngine.VLLM and not on_engine:
                release(batch_id, owner)
                services.enqueue(batch)
                return "handed to batch-vllm"
            stopped_by = _execute(batch, owner, on_engine=on_engine)
            if stopped_by is None:
                renew(batch, owner, status=BatchStatus.FINALIZING, finalizing_at=timezone.now())
        final = {
            BatchStatus.CANCELLING: BatchStatus.CANCELLED,
            BatchStatus.FINALIZING: BatchStatus.COMPLETED,
        }.get(batch.status)
        if final is None and expired(batch):
            final = BatchStatus.EXPIRED
        if final is None:
            return batch.status
        return _finish(batch, owner, final)
    except LeaseLost:
        logger.warning("Batch %s was taken over by another worker; stopping", batch_id)
        return "lease lost"
    finally:
        release(batch_id, owner)


def _validate(batch: Batch, owner: str) -> bool:
    found = validate_lines(
        batch.workspace, batch.endpoint, stored_lines(batch.input_file.storage_key)
    )
    if found.errors:
        now = timezone.now()
        renew(
            batch,
            owner,
            status=BatchStatus.FAILED,
            errors=found.errors,
            total=found.total,
            failed_at=now,
        )
        return False
    endpoint = found.route.endpoint
    engine_path = getattr(found.route.settings, "engine_model_path", None)
    renew(
        batch,
        owner,
        status=BatchStatus.IN_PROGRESS,
        in_progress_at=timezone.now(),
        total=found.total,
        model=found.model,
        model_endpoint=endpoint,
        engine=BatchEngine.VLLM if engine_path else BatchEngine.HTTP,
    )
    return True


def _execute(batch: Batch, owner: str, *, on_engine: bool) -> str | None:
    """Answer the lines not answered yet; why it stopped early, or None when all are done."""
    done = set(batch.results.values_list("line", flat=True))
    lines = parsed_lines(batch.input_file.storage_key, skip=done)
    checkpoint = Checkpoint(batch, owner)
    if checkpoint.save():  # cancelled or expired while waiting for a worker
        return checkpoint.stop_reason
    if on_engine:
        run_on_engine(batch, lines, checkpoint)
    else:
        _run_over_http(batch, lines, checkpoint)
    return checkpoint.save()


def _run_over_http(batch: Batch, lines: Iterator[BatchLine], checkpoint: Checkpoint) -> None:
    """Answer lines ``BATCH_CONCURRENCY`` at a time through the gateway."""
    stopping = threading.Event()
    context = answering.LineContext(
        batch_id=batch.pk,
        workspace=batch.workspace,
        api_key=batch.api_key,
        endpoint=batch.endpoint,
        stopping=stopping,
    )
    limit = max(1, settings.BATCH_CONCURRENCY)
    in_flight: set[Future] = set()

    def collect(timeout: float | None) -> None:
        finished, _ = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
        for future in finished:
            in_flight.discard(future)
            checkpoint.add(future.result())
        checkpoint.store()
        if checkpoint.due() and checkpoint.save():
            stopping.set()

    with ThreadPoolExecutor(max_workers=limit, thread_name_prefix=f"batch-{batch.pk}") as pool:
        try:
            for line in lines:
                while len(in_flight) >= limit and not stopping.is_set():
                    collect(CHECKPOINT_SECONDS)
                if stopping.is_set():
                    break
                in_flight.add(pool.submit(answering.answer, context, line))
            while in_flight:
                collect(CHECKPOINT_SECONDS)
        except BaseException:
            stopping.set()  # a lost lease, a bug: let the threads' waits end
            raise


def _finish(batch: Batch, owner: str, final: BatchStatus) -> str:
    """Write the output and error files and end the batch in ``final``."""
    now = timezone.now()
    undone: Callable[[], Iterator[BatchLine]] | None = None
    if final == BatchStatus.EXPIRED and batch.total:
        done = set(batch.results.values_list("line", flat=True))

        def undone() -> Iterator[BatchLine]:
            return parsed_lines(batch.input_file.storage_key, skip=done)

    with transaction.atomic():
        files = write_result_files(batch, expired_lines=undone)
        expired_count = files.expired_lines
        fields = counts(batch)
        fields["failed"] += expired_count
        renew(
            batch,
            owner,
            status=final,
            output_file=files.output,
            error_file=files.errors,
            **fields,
            **{f"{final.value}_at": now},
        )
    return final
