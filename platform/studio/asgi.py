"""ASGI entry point: ``uvicorn studio.asgi:application`` (what ``ministudio web`` runs).

``/mcp`` (the MCP server, ``apps.mcp_serving``) is the official ``mcp`` SDK's ASGI app and
is answered before Django sees it; the SDK surfaces go to Django with a lean middleware
chain (``studio.sdk_handler``); everything else is Django's with the full chain.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

django_application = get_asgi_application()

# The SDK surfaces get a lean middleware chain (studio/sdk_handler.py).
from studio.sdk_handler import SdkASGIHandler, is_sdk_path  # noqa: E402

sdk_application = SdkASGIHandler()

# Imported once Django is set up: it reads models.
from apps.mcp_serving.transport import PATH as MCP_PATH  # noqa: E402
from apps.mcp_serving.transport import McpApp  # noqa: E402

mcp_application = McpApp()

# Load the local embedding models knowledge bases use, on a background thread: serving
# starts at once, and the first hit test does not pay for the load.
from apps.knowledge.warmup import warm_in_background  # noqa: E402

warm_in_background()


async def application(scope, receive, send):
    if scope["type"] == "http" and scope["path"] in (MCP_PATH, f"{MCP_PATH}/"):
        await mcp_application(scope, receive, send)
    elif scope["type"] == "http" and is_sdk_path(scope["path"]):
        await sdk_application(scope, receive, send)
    else:
        await django_application(scope, receive, send)
