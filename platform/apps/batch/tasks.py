"""The batch queues' tasks. ``workers.batch.run`` goes to queue ``batch``;
``workers.batch-vllm.run`` to ``batch-vllm``, which only workers with the vLLM engine
consume; ``workers.batches.sweep`` is housekeeping on the default queue.

Tasks are acknowledged when taken, not when done: a batch may run for hours, longer than
the broker would wait before handing an unacknowledged task to another worker. The
batch's own lease (``apps.batch.execution``) is what recovers a dead worker's batch.
"""

import logging
import os
import socket
import uuid

from celery import shared_task
from celery.signals import worker_ready

from apps.batch import execution, services
from apps.batch.models import Batch, BatchEngine, BatchStatus

logger = logging.getLogger(__name__)

#: A batch that made its worker fail this often is failed rather than tried again.
MAX_ATTEMPTS = 5


def _owner(task_id: str | None) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{task_id or uuid.uuid4().hex[:8]}"


def _run(task, batch_id: str, *, on_engine: bool) -> str:
    try:
        return execution.run_batch(batch_id, _owner(task.request.id), on_engine=on_engine)
    except Exception as exc:
        logger.exception("Batch %s failed in its worker", batch_id)
        batch = Batch.objects.filter(pk=batch_id).first()
        if batch is not None and batch.attempts >= MAX_ATTEMPTS:
            Batch.objects.filter(pk=batch_id, status__in=execution.UNFINISHED).update(
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
        raise


@shared_task(name="workers.batch.run", bind=True, acks_late=False)
def run_batch(self, batch_id: str) -> str:
    """Validate and run a batch over HTTP (or hand it to ``batch-vllm``)."""
    return _run(self, batch_id, on_engine=False)


@shared_task(name="workers.batch-vllm.run", bind=True, acks_late=False)
def run_batch_on_engine(self, batch_id: str) -> str:
    """Run a validated batch on this worker's in-process vLLM engine."""
    return _run(self, batch_id, on_engine=True)


@shared_task(name="workers.batches.sweep")
def sweep() -> int:
    """Queue again the batches whose worker died (scheduled by beat every 30 s)."""
    return services.resume_stalled()


@worker_ready.connect
def _resume_on_start(sender, **kwargs) -> None:
    """A batch worker that starts takes up the batches a dead one left, without waiting
    for the next sweep."""
    queues = set(sender.app.amqp.queues.consume_from or ())
    engines = []
    if "batch" in queues:
        engines.append(BatchEngine.HTTP)
    if "batch-vllm" in queues:
        engines.append(BatchEngine.VLLM)
    for engine in engines:
        resumed = services.resume_stalled(engine)
        if resumed:
            logger.info("Resumed %d stalled %s batch(es)", resumed, engine)
