"""ASGI entry point: ``uvicorn studio.asgi:application`` (what ``ministudio web`` runs)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

application = get_asgi_application()
