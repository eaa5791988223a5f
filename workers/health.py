"""The worker's own health: a task that proves a worker is alive and reaches the database.

It belongs to no app (it touches only the connection), so it stays with the worker.
``workers.health.ping`` is the name probes and tests send."""

import os

from celery import shared_task
from django.db import connection


@shared_task(name="workers.health.ping")
def ping() -> dict:
    """Answer with this worker's pid and the database server's version."""
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (server_version,) = cursor.fetchone()
    return {"pong": True, "worker_pid": os.getpid(), "database_version": server_version}
