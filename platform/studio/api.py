"""The console / management API root (``/console/api/``) and its error handling.

Routers live in their apps; this module only assembles them and renders every failure
in the one error shape of ``studio.errors``.
"""

import logging

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from apps.accounts.api import router as accounts_router
from apps.accounts.auth import console_auth
from apps.endpoints.api import router as endpoints_router
from apps.registry.api import router as registry_router
from studio.errors import CODES_BY_STATUS, ApiError, error_response
from studio.health import router as health_router

logger = logging.getLogger(__name__)


def _field_path(loc: list) -> str:
    # ninja prefixes locations with the source and the argument name ("body", "payload").
    parts = [str(part) for part in loc if part not in ("body", "query", "path", "header")]
    if len(parts) > 1:
        parts = parts[1:]
    return ".".join(parts) or "body"


def validation_message(errors: list[dict]) -> str:
    return "; ".join(f"{_field_path(e.get('loc', []))}: {e.get('msg', 'invalid')}" for e in errors)


def install_error_handlers(api: NinjaAPI) -> None:
    """Make every failure of ``api`` answer ``{"code", "message", "request_id"}``."""

    @api.exception_handler(ApiError)
    def on_api_error(request: HttpRequest, exc: ApiError) -> HttpResponse:
        return error_response(request, exc.status, exc.code, exc.message)

    @api.exception_handler(ValidationError)
    def on_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return error_response(request, 400, "InvalidParameter", validation_message(exc.errors))

    @api.exception_handler(AuthenticationError)
    def on_not_authenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        return error_response(
            request,
            401,
            "NotAuthenticated",
            "Authentication required: sign in, or send 'Authorization: Bearer sk-...'.",
        )

    @api.exception_handler(HttpError)
    def on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        message = str(exc)
        if exc.status_code == 400 and message.startswith("Cannot parse request body"):
            message = "The request body is not valid JSON."
        code = CODES_BY_STATUS.get(exc.status_code, "InvalidParameter")
        return error_response(request, exc.status_code, code, message)

    @api.exception_handler(Http404)
    def on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
        return error_response(request, 404, "NotFound", "Not found.")

    @api.exception_handler(Exception)
    def on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
        logger.exception("Unhandled error in %s %s", request.method, request.path)
        return error_response(request, 500, "InternalError", "Internal server error.")


console_api = NinjaAPI(
    title="ministudio console API",
    version="1",
    description=(
        "Management API of ministudio: sessions, workspaces, members, API keys, plugins, "
        "model endpoints."
    ),
    urls_namespace="console",
    auth=console_auth,
)
install_error_handlers(console_api)
console_api.add_router("/", health_router)
console_api.add_router("/", accounts_router)
console_api.add_router("/", registry_router)
console_api.add_router("/", endpoints_router)
