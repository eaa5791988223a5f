"""Running a batch: claim it, validate its file, answer its lines, write its files.

A worker claims a batch with a lease (``Batch.lease_owner`` / ``lease_expires_at``) and
renews it at every checkpoint. Each answered line is stored as it arrives (``BatchResult``,
unique per line); checkpoints, every ``CHECKPOINT_SECONDS``, refresh ``request_counts``
and the lease. A worker that dies stops renewing; once its lease lapses the sweep (and
any batch worker starting up) hands the batch to another, which skips the lines already
answered. A line in flight when the worker died is sent again; none is lost or written
twice.

Between checkpoints the runner reads the batch's status: ``cancelling`` stops new lines
(those in flight finish) and ends the batch ``cancelled`` with partial output; passing
``expires_at`` ends it ``expired``, the lines not done reported as ``batch_expired``.
"""

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import timedelta

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from apps.batch import answering
from apps.batch.inputs import parsed_lines, stored_lines
from apps.batch.lines import BatchLine, LineOutcome
from apps.batch.models import UNFINISHED, Batch, BatchEngine, BatchResult, BatchStatus
from apps.batch.outputs import write_result_files
from apps.batch.validation import validate_lines

logger = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0


class LeaseLost(Exception):
    """Another worker took the batch over (this one was thought dead): stop at once."""


# --- the lease ----------------------------------------------------------------------------------


def claim(batch_id: str, owner: str) -> bool:
    """Take the batch's lease if it is free, lapsed, or already ours."""
    now = timezone.now()
    return bool(
        Batch.objects.filter(pk=batch_id, status__in=UNFINISHED)
        .filter(
            Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now) | Q(lease_owner=owner)
        )
        .update(
            lease_owner=owner,
            lease_expires_at=now + timedelta(seconds=settings.BATCH_LEASE_SECONDS),
            attempts=F("attempts") + 1,
        )
    )


def _renew(batch: Batch, owner: str, **fields) -> None:
    """Store ``fields`` and extend the lease, or ``LeaseLost``."""
    lease = timezone.now() + timedelta(seconds=settings.BATCH_LEASE_SECONDS)
    updated = Batch.objects.filter(pk=batch.pk, lease_owner=owner).update(
        lease_expires_at=lease, **fields
    )
    if not updated:
        raise LeaseLost(batch.pk)
    for name, value in fields.items():
        setattr(batch, name, value)


@contextlib.contextmanager
def kept_alive(batch: Batch, owner: str) -> Iterator[None]:
    """Renew the lease from a side thread while a long step runs (an engine chunk may take
    minutes on a CPU), so the batch is not thought dead meanwhile."""
    done = threading.Event()

    def beat() -> None:
        try:
            while not done.wait(max(1.0, settings.BATCH_LEASE_SECONDS / 3)):
                lease = timezone.now() + timedelta(seconds=settings.BATCH_LEASE_SECONDS)
                Batch.objects.filter(pk=batch.pk, lease_owner=owner).update(lease_expires_at=lease)
        finally:
            connections.close_all()

    heart = threading.Thread(target=beat, name=f"lease-{batch.pk}", daemon=True)
    heart.start()
    try:
        yield
    finally:
        done.set()
        heart.join()


def release(batch_id: str, owner: str) -> None:
    Batch.objects.filter(pk=batch_id, lease_owner=owner).update(
        lease_owner="", lease_expires_at=None
    )


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
            if _expired(batch):
                return _finish(batch, owner, BatchStatus.EXPIRED)
            if not _validate(batch, owner):
                return "failed"
        if batch.status == BatchStatus.IN_PROGRESS and not _expired(batch):
            if batch.engine == BatchEngine.VLLM and not on_engine:
                from apps.batch.services import enqueue

                release(batch_id, owner)
                enqueue(batch)
                return "handed to batch-vllm"
            stopped_by = _execute(batch, owner, on_engine=on_engine)
            if stopped_by is None:
                _renew(batch, owner, status=BatchStatus.FINALIZING, finalizing_at=timezone.now())
        final = {
            BatchStatus.CANCELLING: BatchStatus.CANCELLED,
            BatchStatus.FINALIZING: BatchStatus.COMPLETED,
        }.get(batch.status)
        if final is None and _expired(batch):
            final = BatchStatus.EXPIRED
        if final is None:
            return batch.status
        return _finish(batch, owner, final)
    except LeaseLost:
        logger.warning("Batch %s was taken over by another worker; stopping", batch_id)
        return "lease lost"
    finally:
        release(batch_id, owner)


def _expired(batch: Batch) -> bool:
    return timezone.now() >= batch.expires_at


def _validate(batch: Batch, owner: str) -> bool:
    found = validate_lines(
        batch.workspace, batch.endpoint, stored_lines(batch.input_file.storage_key)
    )
    if found.errors:
        now = timezone.now()
        _renew(
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
    _renew(
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


class Checkpoint:
    """Answered lines waiting to be stored; storing them renews the lease and tells the
    runner whether to stop (cancel requested, window passed)."""

    def __init__(self, batch: Batch, owner: str) -> None:
        self.batch = batch
        self.owner = owner
        self.pending: list[LineOutcome] = []
        self.last = time.monotonic()
        self.stop_reason: str | None = None

    def add(self, outcome: LineOutcome | None) -> None:
        if outcome is not None:
            self.pending.append(outcome)

    def due(self) -> bool:
        return time.monotonic() - self.last >= CHECKPOINT_SECONDS

    def store(self) -> None:
        """Store the answered lines at once: a line answered is never sent again, even if
        this worker dies before its next checkpoint."""
        batch = self.batch
        if self.pending:
            BatchResult.objects.bulk_create(
                [
                    BatchResult(
                        batch=batch,
                        line=o.line,
                        custom_id=o.custom_id,
                        status_code=o.status_code,
                        body=o.body,
                        request_id=o.request_id,
                        input_tokens=o.input_tokens,
                        output_tokens=o.output_tokens,
                    )
                    for o in self.pending
                ],
                ignore_conflicts=True,  # a line a dead worker had already stored
            )
            self.pending = []

    def save(self) -> str | None:
        """Store what is pending, refresh the counts and the lease; the reason to stop,
        if there is one now."""
        batch = self.batch
        self.store()
        _renew(batch, self.owner, **counts(batch))
        self.last = time.monotonic()
        batch.status, batch.expires_at = Batch.objects.values_list("status", "expires_at").get(
            pk=batch.pk
        )
        if batch.status == BatchStatus.CANCELLING:
            self.stop_reason = "cancelled"
        elif _expired(batch):
            self.stop_reason = "expired"
        return self.stop_reason


def counts(batch: Batch) -> dict[str, int]:
    """``completed``, ``failed`` and the token sums, from the stored lines."""
    found = batch.results.aggregate(
        completed=Count("pk", filter=Q(status_code=200)),
        failed=Count("pk", filter=~Q(status_code=200)),
        input_tokens=Sum("input_tokens", default=0),
        output_tokens=Sum("output_tokens", default=0),
    )
    return found


def _execute(batch: Batch, owner: str, *, on_engine: bool) -> str | None:
    """Answer the lines not answered yet; why it stopped early, or None when all are done."""
    done = set(batch.results.values_list("line", flat=True))
    lines = parsed_lines(batch.input_file.storage_key, skip=done)
    checkpoint = Checkpoint(batch, owner)
    if checkpoint.save():  # cancelled or expired while waiting for a worker
        return checkpoint.stop_reason
    if on_engine:
        from apps.batch.engine_runner import run_on_engine

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
        _renew(
            batch,
            owner,
            status=final,
            output_file=files.output,
            error_file=files.errors,
            **fields,
            **{f"{final.value}_at": now},
        )
    return final
