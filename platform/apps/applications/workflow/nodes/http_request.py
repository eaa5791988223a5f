"""HTTP request: calls a web API with a method, URL, headers, query parameters and a body
written as templates over the variables, and hands the response to later nodes.

Settings: ``method``, ``url``, ``headers``, ``query``, ``body`` (all but the method are
templates: ``{{ node_id.output }}``) and ``timeout_seconds`` (at most 60).

Every request goes through the platform's SSRF guard (``plugins.safe_http``), as HTTP tools
do: a URL a variable fills in (and so, perhaps, a prompt) must not reach the platform's own
network. A refused address, a time-out, a network failure or a response over
``RESPONSE_LIMIT`` bytes fails the node with the guard's message, with the rendered header
and query values (the URL's own too) masked in it: they may carry credentials. An HTTP
error status does not fail the node: it is the ``status_code`` output, for a condition to
branch on.

A body that is JSON once rendered is sent as JSON (``application/json``); any other body is
sent as it is, as ``text/plain; charset=utf-8`` unless the headers give a ``Content-Type``
(a form, XML...). Write variables into a JSON body as JSON values, e.g.
``{"name": "{{ start.name }}"}`` for text.
"""

import json
import re
from typing import Any, Literal
from urllib.parse import parse_qsl, urlsplit

from pydantic import Field, field_validator

from apps.applications.workflow.nodes.base import (
    Node,
    NodeContext,
    NodeResult,
    NodeSettings,
    Read,
    VarType,
    template_reads,
)
from apps.applications.workflow.shared_connection import waiting
from plugins import safe_http
from plugins.scrubbing import scrub

#: The largest response body read, in bytes; a larger one fails the node.
RESPONSE_LIMIT = 100_000
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
#: Headers the HTTP client manages itself.
_MANAGED_HEADERS = frozenset(
    {"host", "connection", "content-length", "transfer-encoding", "keep-alive", "upgrade", "te"}
)


class HttpRequestSettings(NodeSettings):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = Field(
        "GET", description="The HTTP method."
    )
    url: str = Field(
        min_length=1, max_length=4_000, description="A template: https://api.example.com/..."
    )
    headers: dict[str, str] = Field(
        default_factory=dict, max_length=50, description="Header values are templates."
    )
    query: dict[str, str] = Field(
        default_factory=dict,
        max_length=50,
        description="Query parameters added to the URL; values are templates.",
    )
    body: str | None = Field(
        None,
        max_length=100_000,
        description="A template; sent as JSON when it renders to JSON, else as text.",
    )
    timeout_seconds: float = Field(
        10, gt=0, le=60, description="The whole request, redirects and body included."
    )

    @field_validator("headers")
    @classmethod
    def _header_names(cls, headers: dict[str, str]) -> dict[str, str]:
        for name in headers:
            if not _HEADER_NAME.match(name):
                raise ValueError(f"'{name}' is not a valid header name")
            if name.lower() in _MANAGED_HEADERS or name.lower().startswith("proxy-"):
                raise ValueError(f"the header '{name}' is set by the HTTP client, not here")
        return headers


def url_secrets(url: str) -> list[str]:
    """The parts of a URL that may be credentials: its query values and its password."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return []
    return [value for _, value in parse_qsl(parts.query)] + ([password] if password else [])


def parsed_json(text: str) -> Any:
    """``text`` as JSON when it is JSON, else ``None``."""
    try:
        return json.loads(text) if text.strip() else None
    except ValueError:
        return None


class HttpRequest(Node):
    type = "http_request"
    Settings = HttpRequestSettings
    default_timeout_seconds = 90.0

    def outputs(self, settings: HttpRequestSettings) -> dict[str, VarType]:
        return {"status_code": "number", "body": "string", "json": "any", "headers": "object"}

    def reads(self, settings: HttpRequestSettings) -> list[Read]:
        found = template_reads(settings.url, "url")
        for name, value in settings.headers.items():
            found += template_reads(value, f"headers.{name}")
        for name, value in settings.query.items():
            found += template_reads(value, f"query.{name}")
        return found + template_reads(settings.body or "", "body")

    def run(self, ctx: NodeContext, settings: HttpRequestSettings) -> NodeResult:
        url = ctx.render(settings.url).strip()
        headers = {name: ctx.render(value) for name, value in settings.headers.items()}
        query = {name: ctx.render(value) for name, value in settings.query.items()}
        secrets = [*headers.values(), *query.values(), *url_secrets(url)]
        for name, value in headers.items():
            if any(ch in value for ch in "\r\n\0"):
                raise ctx.failed(f"the value of the header '{name}' has a line break.")
        body, content = self._body(ctx, settings)
        if content is not None and not any(n.lower() == "content-type" for n in headers):
            headers["Content-Type"] = "text/plain; charset=utf-8"
        try:
            with waiting():
                response = safe_http.request(
                    settings.method,
                    url,
                    params=query or None,
                    json=body,
                    content=content,
                    headers=headers,
                    timeout=settings.timeout_seconds,
                    max_bytes=RESPONSE_LIMIT,
                )
        except safe_http.SafeHttpError as exc:
            raise ctx.failed(scrub(str(exc), secrets, min_length=4)) from None
        text = response.text()
        return NodeResult(
            {
                "status_code": response.status,
                "body": text,
                "json": parsed_json(text),
                "headers": response.headers,
            }
        )

    def _body(self, ctx: NodeContext, settings: HttpRequestSettings) -> tuple[Any, str | None]:
        """The rendered body: as JSON to send as JSON, or as text to send as it is
        (``(None, None)``: send none)."""
        if settings.body is None or not settings.body.strip():
            return None, None
        rendered = ctx.render(settings.body)
        try:
            return json.loads(rendered), None
        except ValueError:
            return None, rendered
