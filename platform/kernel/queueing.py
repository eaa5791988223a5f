"""Sending a task by its name to a named queue, so that services never import task modules
(the task modules import the services: importing back would close a circle).

The names below are what senders (services, task decorators) spell; ``workers`` declares
the queues themselves (exchanges, keys, who consumes which), and a send to a queue the app
does not declare is refused. Every send names its queue: nothing is routed by a task
name's prefix.
"""

from importlib import import_module
from typing import Any

from celery import Task, current_app
from celery.result import AsyncResult

#: Parse, chunk, embed and index documents.
INGEST = "ingest"
#: Batch inference over HTTP.
BATCH = "batch"
#: Batch inference on an in-process vLLM engine: only GPU workers consume it.
BATCH_VLLM = "batch-vllm"
#: Housekeeping: sweeps, usage flushing, the health ping.
DEFAULT = "default"


def enqueue(
    task_name: str,
    *args: Any,
    queue: str,
    countdown: float | None = None,
    task_id: str | None = None,
) -> AsyncResult:
    """Send ``task_name(*args)`` to ``queue`` on the project's Celery app.

    A task this process knows (or can import from the app's ``include`` list) is sent with
    its own ``apply_async``, so the app's eager mode (the unit tests) runs it here and now;
    ``send_task`` alone would always go through the broker."""
    declared = {known.name for known in current_app.conf.task_queues or ()}
    if declared and queue not in declared:
        raise ValueError(f"Queue {queue!r} is not one of the app's: {', '.join(sorted(declared))}.")
    options: dict[str, Any] = {"queue": queue, "countdown": countdown, "task_id": task_id}
    task = _registered(task_name)
    if task is not None:
        return task.apply_async(args, **options)
    return current_app.send_task(task_name, args, **options)


def _registered(task_name: str) -> Task | None:
    """The app's task of that name, importing the app's task modules the first time (by
    their dotted names, which are configuration, not imports of this module)."""
    app = current_app
    task = app.tasks.get(task_name)
    if task is None:
        for module in app.conf.include or ():
            import_module(module)
        task = app.tasks.get(task_name)
    return task
