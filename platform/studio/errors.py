"""The one error shape of ministudio's HTTP surfaces.

Every error is ``{"code": ..., "message": ..., "request_id": ...}`` with a fitting status.
Codes follow DashScope's where one exists (``InvalidParameter``, ``InvalidApiKey``,
``AccessDenied``...), so the official SDK and our own clients read them the same way.
"""

from django.http import HttpRequest, JsonResponse

from studio.request_id import request_id_of


class ApiError(Exception):
    """An error a handler raises on purpose; rendered as the error shape."""

    status = 400
    code = "InvalidParameter"

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
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


def error_response(request: HttpRequest, status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse(
        {"code": code, "message": message, "request_id": request_id_of(request)},
        status=status,
    )
