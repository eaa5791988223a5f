"""Moving buffered usage events into the ledger (scheduled every few seconds by beat)."""

from celery import shared_task

from apps.usage.services import flush_usage


@shared_task(name="workers.usage.flush")
def flush() -> int:
    """Write every buffered usage event to the ledger and the daily rollups."""
    return flush_usage()
