"""The Celery application.

Queues: ``ingest`` (parse, chunk, embed, index), ``batch`` (batch inference) and
``default`` (housekeeping). Routing lives in settings (``CELERY_TASK_ROUTES``), so a
worker started with ``-Q ingest`` takes only ingestion work. Tasks take ids, not objects,
and call the same services as the web process.
"""

import os

from celery import Celery
from kombu import Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

QUEUES = ("ingest", "batch", "default")

app = Celery("ministudio", include=["workers.health"])
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = [Queue(name) for name in QUEUES]
