"""Plain Django views: the landing page and the JSON error pages of the API prefixes."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from studio.errors import error_response, is_api_path


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "studio/home.html")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request):
        return error_response(request, 404, "NotFound", f"No endpoint at {request.path}.")
    return render(request, "studio/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return error_response(request, 500, "InternalError", "Internal server error.")
    return HttpResponse("Internal server error.", status=500, content_type="text/plain")
