"""Moving buffered usage events into the ledger (beat schedules it every few seconds)."""

from celery import shared_task

from apps.usage.services import flush_usage


@shared_task(name="usage.flush")
def flush() -> int:
    """Write every buffered usage event to the ledger and the daily rollups."""
    return flush_usage()
