"""Probes for process managers and orchestrators: ``/livez`` and ``/healthz``.

They answer before any other middleware, so a probe needs neither an allowed ``Host`` (a
kubelet asks by pod IP) nor HTTPS (probes are plain HTTP inside the cluster), and writes no
session or log line of its own.

- ``/livez``: the process serves requests. No backing service is asked, so an outage of
  Postgres or Redis never has every web process restarted at once.
- ``/healthz``: ready for traffic: Postgres and Redis both answer (503 naming the one that
  does not). The same checks as ``/console/api/health``.
"""

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.http import HttpRequest, HttpResponse, JsonResponse

from studio.health import backing_services

LIVENESS_PATH = "/livez"
READINESS_PATH = "/healthz"


class ProbeMiddleware:
    # Both sync and async: under ASGI an async-capable middleware costs no thread hop.
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        if request.path == LIVENESS_PATH:
            return _no_store(JsonResponse({"status": "ok"}))
        if request.path == READINESS_PATH:
            return _readiness(backing_services())
        return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        if request.path == LIVENESS_PATH:
            return _no_store(JsonResponse({"status": "ok"}))
        if request.path == READINESS_PATH:
            return _readiness(await sync_to_async(backing_services)())
        return await self.get_response(request)


def _readiness(body: dict) -> HttpResponse:
    return _no_store(JsonResponse(body, status=200 if body["status"] == "ok" else 503))


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response
