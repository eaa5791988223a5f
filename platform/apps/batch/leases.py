"""A batch's lease: which worker runs it, until when (``Batch.lease_owner`` /
``lease_expires_at``).

A worker claims a batch and renews the lease as it goes (at every checkpoint, and from a
side thread during a long engine chunk). A worker that dies stops renewing; once its lease
lapses the sweep (and any batch worker starting up) hands the batch to another.
"""

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections
from django.db.models import F, Q
from django.utils import timezone

from apps.batch.models import UNFINISHED, Batch


class LeaseLost(Exception):
    """Another worker took the batch over (this one was thought dead): stop at once."""


def owner_name(task_id: str | None) -> str:
    """Who holds a lease: this host, this process, and the task running the batch."""
    return f"{socket.gethostname()}:{os.getpid()}:{task_id or uuid.uuid4().hex[:8]}"


def _expiry() -> datetime:
    return timezone.now() + timedelta(seconds=settings.BATCH_LEASE_SECONDS)


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
            lease_expires_at=_expiry(),
            attempts=F("attempts") + 1,
        )
    )


def renew(batch: Batch, owner: str, **fields) -> None:
    """Store ``fields`` and extend the lease, or ``LeaseLost``."""
    updated = Batch.objects.filter(pk=batch.pk, lease_owner=owner).update(
        lease_expires_at=_expiry(), **fields
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
                Batch.objects.filter(pk=batch.pk, lease_owner=owner).update(
                    lease_expires_at=_expiry()
                )
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
    """Give the lease up (the batch ended, or was handed to another queue)."""
    Batch.objects.filter(pk=batch_id, lease_owner=owner).update(
        lease_owner="", lease_expires_at=None
    )
