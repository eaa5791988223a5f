"""The one error shape of ministudio's HTTP surfaces.

Every error is ``{"code": ..., "message": ..., "request_id": ...}`` with a fitting status.
Codes follow DashScope's where one exists (``InvalidParameter``, ``InvalidApiKey``,
``AccessDenied``...), so the official SDK and our own clients read them the same way.
"""

import logging
from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from studio.request_id import request_id_of

logger = logging.getLogger(__name__)

API_PREFIXES = ("/console/api/", "/api/", "/compatible-mode/")
CODES_BY_STATUS = {
    400: "InvalidParameter",
    401: "NotAuthenticated",
    403: "AccessDenied",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "RequestTooLarge",
    429: "Throttling",
}


class ApiError(Exception):
    """An error a handler raises on purpose; rendered as the error shape."""

    status = 400
    code = "InvalidParameter"
    #: Extra response headers (a 429's Retry-After).
    headers: dict[str, str] = {}

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        param: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        #: The request field at fault, where one is (OpenAI's error shape names it).
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class InvalidParameter(ApiError):
    status = 400
    code = "InvalidParameter"


class NotAuthenticated(ApiError):
    status = 401
    code = "NotAuthenticated"


class InvalidApiKey(ApiError):
    status = 401
    code = "InvalidApiKey"


class AccessDenied(ApiError):
    status = 403
    code = "AccessDenied"


class NotFound(ApiError):
    status = 404
    code = "NotFound"


class Conflict(ApiError):
    status = 409
    code = "Conflict"


class Throttled(ApiError):
    """429 with ``Retry-After``: too many failed sign-ins or API keys (apps.accounts.throttling)."""

    status = 429
    code = "Throttling"

    def __init__(self, message: str, *, code: str, retry_after: int) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


def error_response(request: HttpRequest, status: int, code: str, message: str) -> JsonResponse:
    if request.path.startswith(OPENAI_PREFIX):
        return openai_error_response(status, message, code=OPENAI_CODES.get(code, code))
    return JsonResponse(
        {"code": code, "message": message, "request_id": request_id_of(request)},
        status=status,
    )


# The OpenAI-compatible surface speaks OpenAI's error shape instead:
# {"error": {"message", "type", "param", "code"}}.
OPENAI_PREFIX = "/compatible-mode/"
OPENAI_CODES = {
    "InvalidApiKey": "invalid_api_key",
    "NotAuthenticated": "invalid_api_key",
    "ModelNotFound": "model_not_found",
    "AccessDenied": "permission_denied",
    "NotFound": "not_found",
    "InvalidParameter": "invalid_value",
    "MethodNotAllowed": "method_not_allowed",
    "Throttling.RateQuota": "rate_limit_exceeded",
    "Throttling.AllocationQuota": "insufficient_quota",
    "Throttling.ApiKey": "too_many_invalid_api_keys",
    "QuotaServiceUnavailable": "quota_service_unavailable",
}
_OPENAI_TYPES = {
    503: "api_error",
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    error_type: str | None = None,
) -> JsonResponse:
    error = {
        "message": message,
        "type": error_type or _OPENAI_TYPES.get(status, "api_error"),
        "param": param,
        "code": code,
    }
    return JsonResponse({"error": error}, status=status)


def is_api_path(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIXES)


class ApiErrorShapeMiddleware:
    """Rewrites the non-JSON error pages Django or ninja produce on their own (a 405 for a
    wrong method, a 400 for a bad Host header...) into the error shape, on API paths only."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self._shape(request, self.get_response(request))

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return self._shape(request, await self.get_response(request))

    def _shape(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        content_type = response.get("Content-Type", "")
        if response.status_code < 400 or content_type.startswith("application/json"):
            return response
        if not is_api_path(request):
            return response
        status = response.status_code
        code = CODES_BY_STATUS.get(status, "InternalError" if status >= 500 else "InvalidParameter")
        reason = getattr(response, "reason_phrase", "") or "Error"
        shaped = error_response(request, status, code, f"{reason}.")
        if response.has_header("Allow"):
            shaped["Allow"] = response["Allow"]
        return shaped


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
        response = error_response(request, exc.status, exc.code, exc.message)
        for name, value in exc.headers.items():
            response[name] = value
        return response

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
