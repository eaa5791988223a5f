"""The Celery application.

Queues: ``ingest`` (parse, chunk, embed, index), ``batch`` (batch inference over HTTP),
``batch-vllm`` (batch inference on an in-process vLLM engine: only GPU workers started with
``--queues batch-vllm`` take it) and ``default`` (housekeeping). Routing lives in settings
(``CELERY_TASK_ROUTES``), so a worker started with ``-Q ingest`` takes only ingestion work.
Tasks take ids, not objects, and call the same services as the web process.
"""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

QUEUES = ("ingest", "batch", "batch-vllm", "default")

app = Celery(
    "ministudio",
    include=[
        "workers.health",
        "workers.usage",
        "apps.knowledge.tasks",
        "apps.applications.tasks",
        "apps.batch.tasks",
    ],
)
app.config_from_object("django.conf:settings", namespace="CELERY")
# Each queue gets its own exchange and key, so a task routed to one queue lands in that one only.
app.conf.task_queues = [Queue(name, Exchange(name), routing_key=name) for name in QUEUES]
