"""A request id on every request, response and log line.

An incoming ``X-Request-Id`` from a proxy is kept when it is a plain token, so one id
follows a call across services; anything else is replaced (it ends up in logs).
"""

import logging
import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar, Token

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-Id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_current: ContextVar[str] = ContextVar("request_id", default="-")


def current_request_id() -> str:
    """The id of the request being served in this context, or ``-`` outside one."""
    return _current.get()


def request_id_of(request: HttpRequest) -> str:
    return getattr(request, "request_id", None) or current_request_id()


class RequestIdMiddleware:
    # Both sync and async: under ASGI an async-capable middleware costs no thread hop.
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def _start(self, request: HttpRequest) -> tuple[str, Token]:
        incoming = request.headers.get(HEADER, "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        return request_id, _current.set(request_id)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        request_id, token = self._start(request)
        try:
            response = self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = request_id
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        request_id, token = self._start(request)
        try:
            response = await self.get_response(request)
        finally:
            _current.reset(token)
        response[HEADER] = request_id
        return response


class RequestIdLogFilter(logging.Filter):
    """Adds ``record.request_id`` so formatters can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True
