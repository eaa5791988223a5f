"""What a model provider needs to report an upstream's failure: the host to name (never
the URL's credentials or path) and how long a rate-limited client should wait
(``retry_after_from_headers``)."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit


def host_label(url: str) -> str:
    """``host[:port]`` of ``url``, for messages: never the scheme's user or password."""
    parts = urlsplit(url)
    host = parts.hostname or "the configured base URL"
    try:
        port = parts.port
    except ValueError:
        port = None
    return f"{host}:{port}" if port else host


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or an HTTP date), or None
    when there is none or it cannot be read; never negative."""
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return max(email.utils.mktime_tz(parsed) - time.time(), 0.0)


def header(headers: Mapping[str, Any] | None, name: str) -> str | None:
    """The value of header ``name`` in any letter case, or None."""
    if not headers:
        return None
    try:
        found = headers.get(name)
    except AttributeError:
        return None
    if found is not None:
        return str(found)
    for key, value in headers.items():
        if isinstance(key, str) and key.lower() == name:
            return None if value is None else str(value)
    return None


def retry_after_from_headers(headers: Mapping[str, Any] | None) -> float | None:
    """Seconds the server asked to wait: ``retry-after-ms`` (milliseconds), else
    ``Retry-After`` (seconds or an HTTP date); None when it said nothing readable."""
    milliseconds = header(headers, "retry-after-ms")
    if milliseconds is not None:
        try:
            return max(float(milliseconds) / 1000, 0.0)
        except ValueError:
            pass
    return retry_after_seconds(header(headers, "retry-after"))
