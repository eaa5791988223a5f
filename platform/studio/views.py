"""Plain Django views: the web console (or, without its build, the start page) and the
JSON error pages of the API prefixes."""

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from apps.model_endpoints.guidance import HOW_TO_ADD_A_CHAT_MODEL, NO_CHAT_MODEL
from apps.model_endpoints.selectors import chat_model_registered
from kernel.errors import error_response, is_api_path
from studio import frontend


@require_safe
def console(request: HttpRequest, path: str = "") -> HttpResponse:
    """The web console's ``index.html`` for any of its client-side routes; its router shows
    the page. Without a build: the start page at ``/``, a 404 elsewhere."""
    dist = frontend.dist_dir()
    if dist is None:
        if path:
            raise Http404(path)
        return home(request)
    response = HttpResponse((dist / "index.html").read_bytes(), content_type="text/html")
    response["Cache-Control"] = "no-cache"
    return response


def home(request: HttpRequest) -> HttpResponse:
    context = {}
    if not chat_model_registered():
        context = {
            "no_chat_model": NO_CHAT_MODEL,
            "how_to_add_a_chat_model": HOW_TO_ADD_A_CHAT_MODEL,
        }
    return render(request, "studio/home.html", context)


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if is_api_path(request):
        return error_response(request, 404, "NotFound", f"No endpoint at {request.path}.")
    return render(request, "studio/404.html", status=404)


def server_error(request: HttpRequest) -> HttpResponse:
    if is_api_path(request):
        return error_response(request, 500, "InternalError", "Internal server error.")
    return HttpResponse("Internal server error.", status=500, content_type="text/plain")
