"""Checking what a developer sends for an MCP server: name, transport, URL or command,
headers, bearer token, time-out. Each check raises ``InvalidParameter`` naming the field."""

import re
from typing import Any
from urllib.parse import urlsplit

from apps.http_tools.services import HEADER_NAME, secret_text
from apps.mcp_servers.models import MAX_TIMEOUT_SECONDS, Transport
from apps.mcp_servers.stdio import allowed_command
from kernel.errors import InvalidParameter

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")
# Headers the HTTP client and the MCP transport own.
RESERVED_HEADERS = {
    "accept",
    "connection",
    "content-length",
    "content-type",
    "host",
    "last-event-id",
    "mcp-protocol-version",
    "mcp-session-id",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
}
MAX_HEADERS = 20
MAX_URL_CHARS = 2000


def checked_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise InvalidParameter(
            "name: 1 to 32 letters, digits, '_' or '-', starting with a letter (it prefixes "
            "the server's tool names as a model sees them)",
            param="name",
        )
    return name


def checked_transport(transport: Any) -> str:
    if transport not in Transport.values:
        raise InvalidParameter(
            f"transport: one of {', '.join(Transport.values)}", param="transport"
        )
    return transport


def checked_url(url: Any) -> str:
    if not isinstance(url, str) or not url.strip():
        raise InvalidParameter("url: required for the HTTP transports", param="url")
    url = url.strip()
    if len(url) > MAX_URL_CHARS or any(char.isspace() or ord(char) < 32 for char in url):
        raise InvalidParameter(
            f"url: at most {MAX_URL_CHARS} characters, without spaces", param="url"
        )
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError:
        raise InvalidParameter(
            "url: the port is not a number from 0 to 65535", param="url"
        ) from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidParameter("url: an http:// or https:// URL with a host", param="url")
    if parts.username or parts.password:
        raise InvalidParameter(
            "url: must not contain credentials; use headers or bearer_token", param="url"
        )
    if parts.fragment:
        raise InvalidParameter("url: must not have a #fragment", param="url")
    return url


def checked_command(command: Any) -> str:
    if not isinstance(command, str) or not command:
        raise InvalidParameter(
            "command: required for stdio (an allow-listed name)", param="command"
        )
    return allowed_command(command).name


def checked_timeout(value: Any) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_TIMEOUT_SECONDS
    ):
        raise InvalidParameter(
            f"timeout_seconds: a whole number from 1 to {MAX_TIMEOUT_SECONDS}",
            param="timeout_seconds",
        )
    return value


def checked_headers(headers: Any, bearer_token: str | None) -> dict[str, str]:
    """Header name → value; an ``Authorization`` header and a bearer token exclude each
    other (the token is sent as that header)."""
    if headers is None:
        return {}
    if not isinstance(headers, dict) or len(headers) > MAX_HEADERS:
        raise InvalidParameter(
            f"headers: an object of at most {MAX_HEADERS} header names and values",
            param="headers",
        )
    seen: set[str] = set()
    for name, value in headers.items():
        lowered = str(name).lower()
        if not HEADER_NAME.match(str(name)) or lowered in RESERVED_HEADERS or lowered in seen:
            raise InvalidParameter(
                f"headers: '{name}' is not a header you may set", param="headers"
            )
        if lowered == "authorization" and bearer_token:
            raise InvalidParameter(
                "headers: give an Authorization header or a bearer_token, not both",
                param="headers",
            )
        seen.add(lowered)
        secret_text(value, f"headers.{name}")
    return dict(headers)
