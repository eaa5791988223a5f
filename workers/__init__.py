"""The Celery side of ministudio: the app, its queues, and the pipelines' tasks."""
