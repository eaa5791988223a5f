"""One retry policy for calls to a model server: the one the ``openai`` SDK follows, so that
a provider written on another SDK (or on plain HTTP) retries exactly as the OpenAI-compatible
provider does.

What is tried again:

- a try that got no answer: the connection failed or dropped, or the server did not answer
  in time;
- an answer with status 408 (request timeout), 409 (lock timeout), 429 (rate limit) or
  5xx, unless the server says otherwise: ``x-should-retry: false`` (or ``true``) is obeyed,
  and a ``Retry-After`` longer than ``MAX_RETRY_AFTER`` seconds means "not now", so the
  failure is the caller's at once.

Anything else (400, 401, 403, 404, 422...) is never tried again: the same request would
fail the same way. A stream is tried again only before anything of it reached the caller.

How long to wait before retry *n* (0 for the first): what the server said in
``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), when that is more than 0
and at most ``MAX_RETRY_AFTER``; otherwise ``INITIAL_DELAY * 2**n``, at most ``MAX_DELAY``,
less a random 0-25 % (so that many clients refused at once do not come back at once).

Use::

    retries = Retries(settings.max_retries, upstream=host)
    while True:
        ...one try; on a failure:
        delay = retries.delay_after(status, headers)   # status None: there was no answer
        if delay is None:
            raise the_mapped_error
        ...close what the try opened, then:
        wait(delay)
"""

from __future__ import annotations

import logging
import math
import random
import time
from collections.abc import Mapping
from typing import Any

from plugins.upstream_errors import header, retry_after_from_headers

#: The first backoff, in seconds; it doubles with each retry.
INITIAL_DELAY = 0.5
#: The longest backoff, in seconds.
MAX_DELAY = 8.0
#: The longest wait a server may ask for and still be retried (the ``openai`` SDK's).
MAX_RETRY_AFTER = 120.0
#: Statuses below 500 that are worth another try.
RETRYABLE_STATUSES = frozenset({408, 409, 429})

log = logging.getLogger(__name__)


def should_retry(status: int | None, headers: Mapping[str, Any] | None = None) -> bool:
    """Whether a failed try is worth another: ``status`` None means there was no answer
    (connection failed or timed out); otherwise the answer's HTTP status and headers."""
    if status is None:
        return True
    retry_after = retry_after_from_headers(headers)
    if retry_after is not None and math.isfinite(retry_after) and retry_after > MAX_RETRY_AFTER:
        return False
    said = (header(headers, "x-should-retry") or "").strip().lower()
    if said in ("true", "false"):
        return said == "true"
    return status in RETRYABLE_STATUSES or status >= 500


def backoff(retries_taken: int) -> float:
    """Seconds before retry number ``retries_taken + 1`` when the server did not say:
    0.5, 1, 2, 4, 8, 8... each less a random 0-25 %."""
    delay = min(INITIAL_DELAY * 2.0 ** min(retries_taken, 64), MAX_DELAY)
    return delay * (1 - 0.25 * random.random())  # noqa: S311 (jitter, not a secret)


def retry_delay(retries_taken: int, headers: Mapping[str, Any] | None = None) -> float:
    """Seconds before the next try: the server's ``Retry-After`` when it is more than 0 and
    at most ``MAX_RETRY_AFTER``, else the ``backoff``."""
    retry_after = retry_after_from_headers(headers)
    if retry_after is not None and 0 < retry_after <= MAX_RETRY_AFTER:
        return retry_after
    return backoff(retries_taken)


def wait(seconds: float) -> None:
    """Sleep before a retry (one place, so tests can stand in for it)."""
    if seconds > 0:
        time.sleep(seconds)


class Retries:
    """The retries of one request: at most ``max_retries`` after its first try.

    ``upstream`` (a host, never a URL with credentials) is only for the log line each
    retry writes.
    """

    def __init__(self, max_retries: int, *, upstream: str | None = None) -> None:
        self.max_retries = max(int(max_retries), 0)
        self.taken = 0
        self.upstream = upstream

    def delay_after(
        self, status: int | None, headers: Mapping[str, Any] | None = None
    ) -> float | None:
        """After a failed try: the seconds to wait before trying again, counting the retry;
        or None when this failure is not retried or no retries are left. ``status`` None
        means there was no answer; the caller waits (``wait``) once it has closed the try."""
        if self.taken >= self.max_retries or not should_retry(status, headers):
            return None
        delay = retry_delay(self.taken, headers)
        self.taken += 1
        log.info(
            "Model server %s: %s; retry %d of %d in %.2f s",
            self.upstream or "upstream",
            "no answer" if status is None else f"HTTP {status}",
            self.taken,
            self.max_retries,
            delay,
        )
        return delay
