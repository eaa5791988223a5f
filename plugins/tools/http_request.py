"""Lets an agent call a web API: GET or POST a public URL, read the answer.

Every request goes through ``plugins.safe_http``, so internal addresses (the
platform's own network, cloud metadata) are refused at connect time, redirects included.
A workspace can narrow it further to a list of domains. Off by default: a workspace admin
decides whether its agents may reach the internet.
"""

from __future__ import annotations

import codecs
import ipaddress
import re
from http import HTTPStatus
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from plugins import safe_http
from plugins.base import PluginSettings, Tool, ToolContext, ToolResult

MAX_CONTENT_CHARS = 8_000
MAX_HEADERS = 10
MAX_REDIRECTS = 3
# Headers the transport owns: letting a model set them would desynchronise the framing or
# address a different virtual host than the one checked.
FORBIDDEN_HEADERS = frozenset(
    {
        "host",
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9-]{1,63}$")
_TEXTUAL = ("text/", "json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "csv")

QueryValue = str | int | float | bool


class HttpRequestArguments(BaseModel):
    url: str = Field(
        min_length=1,
        max_length=2000,
        description="The absolute http(s) URL to call, e.g. 'https://api.example.com/v1/items'.",
    )
    method: Literal["GET", "POST"] = Field("GET", description="GET (the default) or POST.")
    params: dict[str, QueryValue] | None = Field(
        None, max_length=50, description="Query parameters added to the URL, e.g. {'q': 'tea'}."
    )
    body: Any = Field(None, description="A JSON body to send; POST only.")
    headers: dict[str, str] | None = Field(
        None,
        max_length=MAX_HEADERS,
        description="Extra request headers, e.g. {'Accept': 'application/json'}; at most "
        f"{MAX_HEADERS}. Host and hop-by-hop headers are not allowed.",
    )


class HttpRequestSettings(PluginSettings):
    timeout_seconds: float = Field(
        10, gt=0, le=30, description="Seconds a request may take, redirects included."
    )
    max_response_bytes: int = Field(
        200_000, ge=1, le=2_000_000, description="Larger responses are refused."
    )
    allowed_domains: list[str] | None = Field(
        None,
        max_length=100,
        description="When set, only these hosts and their subdomains can be called (e.g. "
        "'example.com' allows api.example.com too).",
    )

    @field_validator("allowed_domains")
    @classmethod
    def _normalise_domains(cls, domains: list[str] | None) -> list[str] | None:
        if domains is None:
            return None
        normalised = []
        for domain in domains:
            name = domain.strip().lower().removeprefix("*.").removeprefix(".").rstrip(".")
            name = name.strip("[]")
            try:
                # Hosts are compared in their ASCII form, as they appear in URLs on the wire.
                name = name.encode("idna").decode("ascii")
            except UnicodeError:
                raise ValueError(f"'{domain}' is not a host name such as example.com") from None
            if not (_DOMAIN.match(name) or _is_ip(name)):
                raise ValueError(f"'{domain}' is not a host name such as example.com")
            normalised.append(name)
        return normalised


class HttpRequest(Tool):
    display_name = "HTTP request"
    description = (
        "Calls a public web API or page with GET or POST (optional query parameters, JSON "
        "body and headers) and returns the status and the response body. Internal and "
        "private network addresses cannot be reached."
    )
    Arguments = HttpRequestArguments
    Settings = HttpRequestSettings
    # The settings allow at most 30 s per request; this is the platform's backstop.
    timeout_seconds = 35.0
    enabled_by_default = False

    def invoke(self, arguments: HttpRequestArguments, context: ToolContext) -> ToolResult:
        """Send the request through the SSRF guard; failures come back as error results."""
        settings: HttpRequestSettings = context.settings  # type: ignore[assignment]
        problem = _argument_problem(arguments)
        if problem:
            return ToolResult(content=problem, is_error=True)
        allowed_domains = settings.allowed_domains

        def check_host(host: str) -> None:
            # Called for the first URL and for every redirect target.
            if allowed_domains is not None and not _domain_allowed(host, allowed_domains):
                raise safe_http.BlockedAddress(
                    host,
                    "not in this workspace's allowed domains ("
                    + (", ".join(allowed_domains) or "none")
                    + ")",
                )

        try:
            response = safe_http.request(
                arguments.method,
                arguments.url,
                params=arguments.params,
                json=arguments.body if arguments.method == "POST" else None,
                headers=arguments.headers,
                timeout=settings.timeout_seconds,
                max_bytes=settings.max_response_bytes,
                max_redirects=MAX_REDIRECTS,
                check_host=check_host,
            )
        except safe_http.SafeHttpError as exc:
            return ToolResult(content=str(exc), is_error=True)
        return _result(response)


def _argument_problem(arguments: HttpRequestArguments) -> str | None:
    if arguments.body is not None and arguments.method != "POST":
        return "A body can only be sent with POST; use method 'POST' or move it into params."
    for name, value in (arguments.headers or {}).items():
        if not _HEADER_NAME.match(name):
            return f"'{name}' is not a valid header name."
        if name.lower() in FORBIDDEN_HEADERS or name.lower().startswith("proxy-"):
            return f"The header '{name}' cannot be set; it is managed by the HTTP client."
        if any(ch in value for ch in "\r\n\0") or len(value) > 2000:
            return f"The value of the header '{name}' is not allowed (line breaks or too long)."
    return None


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def _domain_allowed(host: str, allowed: list[str]) -> bool:
    host = host.strip("[]").rstrip(".").lower()
    return any(host == domain or host.endswith("." + domain) for domain in allowed)


def _result(response: safe_http.SafeResponse) -> ToolResult:
    content_type = response.headers.get("content-type", "")
    kind = content_type.split(";", 1)[0].strip().lower()
    data: dict[str, Any] = {
        "status": response.status,
        "headers": response.headers,
        "url": response.url,
    }
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = ""
    status_line = " ".join(
        part for part in (f"HTTP {response.status}", reason, f"({kind})" if kind else "") if part
    )
    status_line += f" from {response.url}"
    if not _looks_textual(kind, response.body):
        data["text"] = None
        return ToolResult(
            content=f"{status_line}\n\n[binary body of {len(response.body):,} bytes, not shown]",
            data=data,
        )
    text = response.text()
    parsed = False
    if "json" in kind and text.strip():
        try:
            data["json"] = response.json()
            parsed = True
        except ValueError:
            pass  # a server that says JSON and sends something else: show it as text
    if not parsed:
        data["text"] = text
    shown = text
    if len(text) > MAX_CONTENT_CHARS:
        # The model's context is the scarce resource; programs get the whole body in data.
        shown = (
            text[:MAX_CONTENT_CHARS]
            + f"\n\n[truncated: showing the first {MAX_CONTENT_CHARS:,} of {len(text):,} "
            "characters]"
        )
    return ToolResult(content=f"{status_line}\n\n{shown}" if shown else status_line, data=data)


def _looks_textual(kind: str, body: bytes) -> bool:
    if not body:
        return True
    if kind:
        return any(marker in kind for marker in _TEXTUAL)
    # No declared type: text if its start decodes as UTF-8 and has no NUL bytes.
    head = body[:4096]
    try:
        # Incremental, so a character cut at the 4096th byte is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return b"\0" not in head
