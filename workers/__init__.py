"""The Celery side of ministudio, and only that: the app (``celery_app``), its queues
(``queues``), the beat schedule (``schedule``) and the worker's entry (``entry``), plus the
worker's own health ping (``health``).

The task bodies live in the apps (``apps.<app>.tasks``) and call the apps' services; the
app names those modules as strings, so nothing here imports an app.
"""
