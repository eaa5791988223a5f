"""Sending a task by its name to a named queue, so that services never import task modules
(the task modules import the services: importing back would close a circle).

The names below are what senders (services, task decorators) spell; ``workers`` declares
the queues themselves (exchanges, keys, who consumes which), and a send to a queue the app
does not declare is refused. Every send names its queue: nothing is routed by a task
name's prefix.
"""

from typing import Any

from celery import current_app
from celery.result import AsyncResult

#: Parse, chunk, embed and index documents.
INGEST = "ingest"
#: Batch inference over HTTP.
BATCH = "batch"
#: Batch inference on an in-process vLLM engine: only GPU workers consume it.
BATCH_VLLM = "batch-vllm"
#: Housekeeping: sweeps, usage flushing, the health ping.
DEFAULT = "default"


def enqueue(task_name: str, *args: Any, queue: str) -> AsyncResult:
    """Send ``task_name(*args)`` to ``queue`` on the project's Celery app.

    The task is looked up in the app (its task modules, named in the app's ``include``, are
    imported the first time) and sent with its own ``apply_async``, so the app's eager mode
    (the unit tests) runs it here and now; an unknown name is a ``KeyError``, not a message
    no worker can take."""
    app = current_app
    if queue not in app.amqp.queues:
        raise ValueError(
            f"Queue {queue!r} is not one of the app's: {', '.join(sorted(app.amqp.queues))}."
        )
    if task_name not in app.tasks:
        app.loader.import_default_modules()
    return app.tasks[task_name].apply_async(args, queue=queue)
