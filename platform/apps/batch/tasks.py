"""The batch tasks: ``batch.run`` (queue ``batch``: validate, then run over HTTP or hand
the batch to ``batch-vllm``), ``batch.run_on_engine`` (queue ``batch-vllm``, which only
workers with the vLLM engine consume) and ``batch.sweep`` (housekeeping, queue
``default``). They take ids and call ``execution`` and ``services``.

Tasks are acknowledged when taken, not when done: a batch may run for hours, longer than
the broker would wait before handing an unacknowledged task to another worker. The
batch's own lease (``apps.batch.leases``) is what recovers a dead worker's batch.
"""

import logging

from celery import shared_task
from celery.signals import worker_ready

from apps.batch import execution, services
from apps.batch.models import BatchEngine
from kernel import queueing

logger = logging.getLogger(__name__)


@shared_task(name=services.RUN_TASK, bind=True, acks_late=False)
def run_batch(self, batch_id: str) -> str:
    """Validate and run a batch over HTTP (or hand it to ``batch-vllm``)."""
    return execution.run_in_worker(batch_id, self.request.id, on_engine=False)


@shared_task(name=services.RUN_ON_ENGINE_TASK, bind=True, acks_late=False)
def run_batch_on_engine(self, batch_id: str) -> str:
    """Run a validated batch on this worker's in-process vLLM engine."""
    return execution.run_in_worker(batch_id, self.request.id, on_engine=True)


@shared_task(name="batch.sweep")
def sweep() -> int:
    """Queue again the batches whose worker died (scheduled by beat every 30 s)."""
    return services.resume_stalled()


@worker_ready.connect
def _resume_on_start(sender, **kwargs) -> None:
    """A batch worker that starts takes up the batches a dead one left, without waiting
    for the next sweep."""
    queues = set(sender.app.amqp.queues.consume_from or ())
    engines = []
    if queueing.BATCH in queues:
        engines.append(BatchEngine.HTTP)
    if queueing.BATCH_VLLM in queues:
        engines.append(BatchEngine.VLLM)
    for engine in engines:
        resumed = services.resume_stalled(engine)
        if resumed:
            logger.info("Resumed %d stalled %s batch(es)", resumed, engine)
