"""The Celery application.

Connection and delivery settings come from Django's settings (``CELERY_*``); the queues
(``workers.queues``) and the beat schedule (``workers.schedule``) are declared here. Tasks
take ids, not objects, and call the same services as the web process.
"""

import os

from celery import Celery

from workers.queues import DEFAULT_QUEUE, QUEUES, declared_queues
from workers.schedule import BEAT_SCHEDULE

__all__ = ["QUEUES", "app"]

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

app = Celery(
    "ministudio",
    # The task modules, named (imported by the worker, not by this module).
    include=[
        "workers.health",
        "apps.usage.tasks",
        "apps.knowledge.tasks",
        "apps.applications.tasks",
        "apps.batch.tasks",
        # Not a task module: it loads the local embedding models knowledge bases use in
        # each process that runs tasks (worker_process_init), see its docstring.
        "apps.knowledge.warmup",
    ],
)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = declared_queues()
app.conf.task_default_queue = DEFAULT_QUEUE
app.conf.beat_schedule = BEAT_SCHEDULE
