"""The knowledge tasks: ``knowledge.ingest_next`` on the ``ingest`` queue (one token: units
of ingestion work, see ``apps.knowledge.ingestion``) and ``knowledge.sweep``, housekeeping
on ``default``. The Celery app includes this module (``workers.celery_app``)."""

import time

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from apps.knowledge import ingestion, term_statistics

MAX_RETRIES = 6
#: A token does units of work, each chosen fairly when it starts, for this long at most;
#: then, if work remains, it hands over to a fresh token (so no token runs for ever and
#: the queue never holds more tokens than there is work for).
TOKEN_SECONDS = 60.0


def backoff_seconds(retries: int) -> float:
    return min(300.0, 5.0 * 2**retries)


@shared_task(
    name=ingestion.TASK_NAME,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=MAX_RETRIES,
    soft_time_limit=1800,
    time_limit=1860,
)
def ingest_next(self) -> str | None:
    """Do units of ingestion work (prepare documents, embed slices), each fairly chosen,
    until there is none or the token's time is up. Returns the ids of the documents it
    made ready, space-separated (None if none). Retries transient upstream failures with
    backoff (the retry resumes the same unit: the task id, and so the claim, stay)."""
    run_id = self.request.id or "eager"
    deadline = time.monotonic() + TOKEN_SECONDS
    ready: list[str] = []
    try:
        while True:
            unit = ingestion.ingest_next(run_id)
            if unit is None:
                break
            ready += unit.ready
            if time.monotonic() > deadline:
                if ingestion.work_remains():
                    ingestion.dispatch(1)
                break
        return " ".join(ready) or None
    except ingestion.TransientFailure as exc:
        if self.request.retries >= MAX_RETRIES:
            ingestion.fail_claimed(run_id, f"Gave up after {MAX_RETRIES + 1} tries: {exc}")
            return None
        countdown = exc.retry_after or backoff_seconds(self.request.retries)
        raise self.retry(countdown=countdown) from None
    except SoftTimeLimitExceeded:
        ingestion.fail_claimed(run_id, "Ingestion took longer than 30 minutes and was stopped.")
        return None


@shared_task(name="knowledge.sweep")
def sweep() -> int:
    """Re-send tokens for work left waiting, and merge the full-text postings stores left
    fresh (scheduled by beat every minute)."""
    term_statistics.merge_postings()
    return ingestion.sweep()
