"""The one error shape of ministudio's HTTP surfaces.

Every error is ``{"code": ..., "message": ..., "request_id": ...}`` with a fitting status.
Codes follow DashScope's where one exists (``InvalidParameter``, ``InvalidApiKey``,
``AccessDenied``...), so the official SDK and our own clients read them the same way.
"""

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from kernel.openapi import OPENAI_PREFIX, document_errors
from kernel.request_id import request_id_of
from plugins.base import UpstreamError

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
    #: Seconds the caller should wait before trying again (sent as ``Retry-After``).
    retry_after: int | None = None

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        param: str | None = None,
        retry_after: int | None = None,
    ):
        super().__init__(message)
        self.message = message
        #: The request field at fault, where one is (OpenAI's error shape names it).
        self.param = param
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if retry_after is not None:
            self.retry_after = retry_after


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


class RequestTooLarge(ApiError):
    status = 413
    code = "RequestTooLarge"


class TooManyFiles(ApiError):
    status = 400
    code = "TooManyFiles"


def error_response(
    request: HttpRequest,
    status: int,
    code: str,
    message: str,
    *,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JsonResponse:
    """The error in the shape of the surface ``request`` came to: OpenAI's under
    ``/compatible-mode/``, ``{"code", "message", "request_id"}`` everywhere else."""
    if request.path.startswith(OPENAI_PREFIX):
        response = openai_error_response(
            status, message, code=OPENAI_CODES.get(code, code), param=param
        )
    else:
        response = JsonResponse(
            {"code": code, "message": message, "request_id": request_id_of(request)},
            status=status,
        )
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def api_error_response(request: HttpRequest, exc: ApiError) -> JsonResponse:
    headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
    return error_response(
        request, exc.status, exc.code, exc.message, param=exc.param, headers=headers
    )


def upstream_failure(exc: UpstreamError, request_id: str) -> ApiError:
    """A model server's failure as the platform's caller sees it, on every surface: the
    status, code and retry hint its kind declares, and a message that names no host and
    quotes no upstream body. Those go to the log, under the request id."""
    logger.warning(
        "Upstream failure %s (request %s): %s", type(exc).__name__, request_id, exc.message
    )
    return ApiError(
        exc.caller_message(request_id),
        code=exc.caller_error_code(),
        status=exc.caller_status,
        retry_after=exc.retry_after_seconds(),
    )


def failure_of(exc: ApiError | UpstreamError, request_id: str) -> ApiError:
    """The ``ApiError`` a stream reports when it fails half-way (the status line is gone)."""
    return upstream_failure(exc, request_id) if isinstance(exc, UpstreamError) else exc


# The OpenAI-compatible surface speaks OpenAI's error shape instead:
# {"error": {"message", "type", "param", "code"}}.
OPENAI_CODES = {
    "InvalidApiKey": "invalid_api_key",
    "Throttling": "rate_limit_exceeded",
    "RequestTimeOut": "upstream_timeout",
    "InternalError.Upstream": "upstream_error",
    "InternalError.UpstreamAuthentication": "upstream_authentication_failed",
    "InternalError.UpstreamUnreachable": "upstream_unreachable",
    "InvalidParameter.Upstream": "upstream_bad_request",
    "RequestTooLarge": "request_too_large",
    "TooManyFiles": "too_many_files",
    "InvalidParameter.TooManyInputs": "invalid_value",
    "InvalidParameter.InputTooLong": "context_length_exceeded",
    "InvalidParameter.RequestTooLong": "max_tokens_per_request",
    "InternalError": "server_error",
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
    413: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    429: "rate_limit_error",
}


def openai_error_body(
    message: str, *, error_type: str, code: str | None = None, param: str | None = None
) -> dict[str, Any]:
    """OpenAI's error object: a response's body, a stream's last frame, a batch line's."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def openai_error_of(error: ApiError) -> dict[str, Any]:
    """``error`` in OpenAI's terms (its code translated, the type its status implies), with
    its retry hint where it has one: for a place that has no status line (a stream's last
    frame)."""
    body = openai_error_body(
        error.message,
        error_type=_OPENAI_TYPES.get(error.status, "api_error"),
        code=OPENAI_CODES.get(error.code, error.code),
        param=error.param,
    )
    if error.retry_after:
        body["error"]["retry_after"] = error.retry_after
    return body


def openai_error_response(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    error_type: str | None = None,
) -> JsonResponse:
    body = openai_error_body(
        message,
        error_type=error_type or _OPENAI_TYPES.get(status, "api_error"),
        code=code,
        param=param,
    )
    return JsonResponse(body, status=status)


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


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB"


NOT_AUTHENTICATED_MESSAGE = (
    "Authentication required: sign in, or send 'Authorization: Bearer sk-...'."
)


def install_error_handlers(api: NinjaAPI, *, not_authenticated: ApiError | None = None) -> None:
    """Make every failure of ``api`` answer in its surface's error shape (``error_response``).

    ``not_authenticated`` is what a request without credentials is told, where the
    surface words it its own way. The API's OpenAPI schema documents these errors too
    (``kernel.openapi.document_errors``)."""
    document_errors(api)
    for exc_class, told_as in _TOLD_AS_API_ERROR.items():
        api.add_exception_handler(exc_class, _answering(told_as))

    def not_authenticated_error(request: HttpRequest, exc: AuthenticationError) -> ApiError:
        return not_authenticated or NotAuthenticated(NOT_AUTHENTICATED_MESSAGE)

    api.add_exception_handler(AuthenticationError, _answering(not_authenticated_error))
    api.add_exception_handler(HttpError, _on_http_error)
    api.add_exception_handler(Http404, _on_not_found)
    api.add_exception_handler(Exception, _on_unexpected)


def _answering(told_as: Callable[[HttpRequest, Any], ApiError]) -> Callable:
    """An exception handler answering with the ``ApiError`` that ``told_as`` makes."""

    def handler(request: HttpRequest, exc: Exception) -> HttpResponse:
        return api_error_response(request, told_as(request, exc))

    return handler


def _upstream_error(request: HttpRequest, exc: UpstreamError) -> ApiError:
    return upstream_failure(exc, request_id_of(request))


def _invalid_body(request: HttpRequest, exc: ValidationError) -> ApiError:
    first = exc.errors[0].get("loc", []) if exc.errors else []
    return InvalidParameter(validation_message(exc.errors), param=_field_path(first))


def _body_too_big(request: HttpRequest, exc: RequestDataTooBig) -> ApiError:
    limit = _megabytes(settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    return RequestTooLarge(
        f"The request body is larger than the limit of {limit} "
        "(MINISTUDIO_REQUEST_MAX_MB; files in an upload count apart)."
    )


def _too_many_files(request: HttpRequest, exc: TooManyFilesSent) -> ApiError:
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FILES
    message = f"One upload may carry at most {limit} files (MINISTUDIO_UPLOAD_MAX_FILES)."
    return TooManyFiles(message, param="files")


def _too_many_fields(request: HttpRequest, exc: TooManyFieldsSent) -> ApiError:
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    return InvalidParameter(
        f"The request carries more than {limit} form fields or query parameters."
    )


def _unreadable_multipart(request: HttpRequest, exc: MultiPartParserError) -> ApiError:
    # A multipart/form-data body Django cannot read (no boundary, cut short...).
    return InvalidParameter(f"The multipart/form-data body cannot be read: {exc}")


#: The failures that are told as an ``ApiError``, and how.
_TOLD_AS_API_ERROR: dict[type[Exception], Callable[[HttpRequest, Any], ApiError]] = {
    ApiError: lambda request, exc: exc,
    UpstreamError: _upstream_error,
    ValidationError: _invalid_body,
    RequestDataTooBig: _body_too_big,
    TooManyFilesSent: _too_many_files,
    TooManyFieldsSent: _too_many_fields,
    MultiPartParserError: _unreadable_multipart,
}


def _on_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, ApiError):  # refused by the parser (kernel.edge)
        return api_error_response(request, exc.__cause__)
    message = str(exc)
    if exc.status_code == 400 and message.startswith("Cannot parse request body"):
        message = "The request body is not valid JSON."
    code = CODES_BY_STATUS.get(exc.status_code, "InvalidParameter")
    return error_response(request, exc.status_code, code, message)


def _on_not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return error_response(request, 404, "NotFound", "Not found.")


def _on_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled error in %s %s", request.method, request.path)
    message = f"Internal server error. Request id: {request_id_of(request)}."
    return error_response(request, 500, "InternalError", message)
