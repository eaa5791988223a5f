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

from django.http import HttpRequest, HttpResponse, JsonResponse

from studio.health import backing_services

LIVENESS_PATH = "/livez"
READINESS_PATH = "/healthz"


class ProbeMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path == LIVENESS_PATH:
            return _no_store(JsonResponse({"status": "ok"}))
        if request.path == READINESS_PATH:
            body = backing_services()
            return _no_store(JsonResponse(body, status=200 if body["status"] == "ok" else 503))
        return self.get_response(request)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response
