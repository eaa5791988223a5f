"""The SDK surfaces' own Django handler: the same URLs and views, fewer middleware.

Django's own middleware (sessions, CSRF, authentication, messages, common, clickjacking)
are ``MiddlewareMixin`` classes, whose hooks Django runs on a thread under ASGI: two
thread hops each, about fourteen a request, whatever the view. The SDK surfaces
(``/compatible-mode/v1/``, ``/api/v1/``) are called with API keys, never with a session or
a form, so none of those hooks has work to do there; ``studio.asgi`` sends those paths to
this handler, whose chain is the kernel's async-capable middleware and Django's security
middleware run on the loop (its hooks only read the request and set headers). Every other
path keeps the full chain.
"""

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.http import HttpRequest, HttpResponse
from django.middleware.security import SecurityMiddleware

#: Where the SDK surfaces are mounted (``studio.urls``).
SDK_PATH_PREFIXES = ("/compatible-mode/v1/", "/api/v1/")

SDK_MIDDLEWARE = [
    "kernel.request_id.RequestIdMiddleware",
    "kernel.errors.ApiErrorShapeMiddleware",
    "kernel.edge.NulPathMiddleware",
    "studio.sdk_handler.SecurityOnTheLoop",
]


class SecurityOnTheLoop(SecurityMiddleware):
    """Django's ``SecurityMiddleware`` (HTTPS redirect, HSTS and the other headers) with its
    hooks called on the event loop: they read the request and settings and set headers.
    It also checks the Host header against ``ALLOWED_HOSTS`` first, as ``CommonMiddleware``
    does in the full chain (``DisallowedHost``: a 400)."""

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        request.get_host()
        response = self.process_request(request)
        response = response or await self.get_response(request)
        return self.process_response(request, response)


class SdkASGIHandler(ASGIHandler):
    """``ASGIHandler`` with ``SDK_MIDDLEWARE`` for its chain."""

    def load_middleware(self, is_async: bool = False) -> None:
        # Django builds a chain from settings.MIDDLEWARE and nothing else; this swaps the
        # list for the one call that builds this handler's chain (at start-up, before any
        # request, in one thread) and puts it back.
        full = settings.MIDDLEWARE
        settings.MIDDLEWARE = SDK_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full


def is_sdk_path(path: str) -> bool:
    return path.startswith(SDK_PATH_PREFIXES)
