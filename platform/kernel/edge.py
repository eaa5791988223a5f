"""What every API request is checked for before a handler sees it: text with a NUL
character, which Postgres cannot store in a text column (it answered 500 from wherever the
value reached the database).

One check, ``reject_nul``, is applied at the API edge: to JSON bodies, form fields and
query parameters by ``EdgeParser`` (the parser of every NinjaAPI), and to the URL path by
``NulPathMiddleware``. Handlers that decode JSON carried inside a form field call it on
what they decoded.
"""

from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse
from django.utils.datastructures import MultiValueDict
from ninja.parser import Parser

from kernel.errors import InvalidParameter, error_response, is_api_path

NUL = "\x00"


def nul_field(value: Any, where: str) -> str | None:
    """The dotted path, under ``where``, of the first string (value or key) in ``value``
    that holds a NUL character; None when there is none."""
    if isinstance(value, str):
        return where if NUL in value else None
    if isinstance(value, dict):
        for key, item in value.items():
            inner = f"{where}.{key}" if where else str(key)
            if isinstance(key, str) and NUL in key:
                return f"{where} (a key)" if where else "a key"
            if (found := nul_field(item, inner)) is not None:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if (found := nul_field(item, f"{where}[{index}]")) is not None:
                return found
    return None


def reject_nul(value: Any, where: str = "") -> None:
    """Raise ``InvalidParameter`` naming the field when ``value`` holds a NUL character."""
    field = nul_field(value, where)
    if field is not None:
        shown = field.replace(NUL, "\\u0000")
        raise InvalidParameter(
            f"{shown}: text may not contain NUL (\\u0000) characters.", param=shown
        )


class EdgeParser(Parser):
    """ninja's parser, with ``reject_nul`` on everything it parses."""

    def parse_body(self, request: HttpRequest) -> Any:
        data = super().parse_body(request)
        reject_nul(data)
        return data

    def parse_querydict(
        self, data: MultiValueDict, list_fields: list[str], request: HttpRequest
    ) -> dict[str, Any]:
        parsed = super().parse_querydict(data, list_fields, request)
        reject_nul(parsed)
        return parsed


class NulPathMiddleware:
    """A NUL character in an API path (``/batches/batch_%00``) answers 400 in the
    surface's error shape before any view looks the id up. Sync and async, so it adds no
    thread hop to the gateway's async path."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        if iscoroutinefunction(get_response):
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if iscoroutinefunction(self):
            return self.__acall__(request)
        return self._refusal(request) or self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        return self._refusal(request) or await self.get_response(request)

    @staticmethod
    def _refusal(request: HttpRequest) -> HttpResponse | None:
        if NUL in request.path and is_api_path(request):
            message = "path: the URL may not contain NUL (%00) characters."
            return error_response(request, 400, "InvalidParameter", message)
        return None
