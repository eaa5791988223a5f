"""Checkpoints of a running batch: answered lines stored, counts refreshed, the lease
renewed, and the batch's status read back (cancel requested, window passed).

Both runners (over HTTP in ``execution``, on the engine in ``engine_runner``) answer lines
into a ``Checkpoint``; neither needs the other.
"""

import time

from django.db.models import Count, Q, Sum
from django.utils import timezone

from apps.batch import leases
from apps.batch.lines import LineOutcome
from apps.batch.models import Batch, BatchResult, BatchStatus

CHECKPOINT_SECONDS = 1.0


def expired(batch: Batch) -> bool:
    """The batch's completion window has passed."""
    return timezone.now() >= batch.expires_at


def counts(batch: Batch) -> dict[str, int]:
    """``completed``, ``failed`` and the token sums, from the stored lines."""
    return batch.results.aggregate(
        completed=Count("pk", filter=Q(status_code=200)),
        failed=Count("pk", filter=~Q(status_code=200)),
        input_tokens=Sum("input_tokens", default=0),
        output_tokens=Sum("output_tokens", default=0),
    )


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
        leases.renew(batch, self.owner, **counts(batch))
        self.last = time.monotonic()
        batch.status, batch.expires_at = Batch.objects.values_list("status", "expires_at").get(
            pk=batch.pk
        )
        if batch.status == BatchStatus.CANCELLING:
            self.stop_reason = "cancelled"
        elif expired(batch):
            self.stop_reason = "expired"
        return self.stop_reason
