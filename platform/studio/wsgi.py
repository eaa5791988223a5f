"""WSGI entry point, for servers that speak only WSGI (streaming needs ASGI)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

application = get_wsgi_application()

# Load the local embedding models knowledge bases use, on a background thread (see
# studio/asgi.py).
from apps.knowledge.warmup import warm_in_background  # noqa: E402

warm_in_background()
