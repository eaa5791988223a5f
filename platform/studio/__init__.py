"""The ministudio Django project: settings, URLs, the API roots and the command line."""

# Load the Celery app with Django, so what the web process sends (kernel.queueing) goes to
# our broker (Celery's documented Django layout).
from workers.celery_app import app as celery_app

__all__ = ["celery_app"]
