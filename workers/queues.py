"""The queues, declared once for the Celery app and the workers that consume them.

``ingest`` parse, chunk, embed and index documents; ``batch`` batch inference over HTTP;
``batch-vllm`` batch inference on an in-process vLLM engine (only GPU workers started with
``--queues batch-vllm`` take it); ``default`` housekeeping (sweeps, usage flushing, the
health ping). Senders name the queue at every send (``kernel.queueing``); nothing is routed
by a task name.
"""

from kombu import Exchange, Queue

QUEUES = ("ingest", "batch", "batch-vllm", "default")
#: Where a task sent without a queue goes (none of ours is: each names its queue).
DEFAULT_QUEUE = "default"
#: What a plain worker consumes: everything but the GPU queue.
PLAIN_WORKER_QUEUES = ("ingest", "batch", "default")


def declared_queues() -> list[Queue]:
    """Each queue with its own exchange and key, so a task sent to one lands in that one."""
    return [Queue(name, Exchange(name), routing_key=name) for name in QUEUES]
