"""Lock-outs after repeated failed sign-ins and API-key authentications, counted in Redis.

Three counters, each a fixed window in Redis shared by every web replica:

- failed sign-ins per **account** (the e-mail as typed, normalised; whether or not such an
  account exists, so a lock-out tells nothing about which accounts exist);
- failed sign-ins per **client address**, across accounts (one address guessing many);
- failed API-key authentications per **client address**.

A counter starts with its first failure and lives ``AUTH_LOCKOUT_SECONDS``; the failure that
reaches the limit restarts it, so the lock-out lasts ``AUTH_LOCKOUT_SECONDS`` from then and
``Retry-After`` is the counter's remaining TTL. While locked, *every* attempt is refused
before the credentials are looked at, a correct password or a valid key included: otherwise
the answer (429 for a wrong secret, 200 for the right one) would go on telling a guesser
which guess was right. Refused attempts are not counted, so a lock-out does not prolong
itself. A successful sign-in clears its account's counter, not its address's (an attacker
holding one account must not be able to reset the address between guesses at others). A
limit of 0 turns that counter off.

Why not django-axes: axes has one failure limit (``AXES_FAILURE_LIMIT``) for all its lock-out
parameters, so "5 per account, 20 per address" cannot be said; its lock-out answer is its own
middleware's or view's, not our three error shapes with ``Retry-After``; and API keys are
outside it, so a second mechanism would be needed anyway. Here one small Lua script counts
atomically (INCR + EXPIRE in one step) for both.

Sign-ins are throttled the way axes does it, so every caller of
``django.contrib.auth.authenticate`` with a request is covered: the console's
``POST /console/api/auth/login`` and the Django admin's login page. ``LockoutBackend``, first
in ``AUTHENTICATION_BACKENDS``, refuses a locked-out attempt by raising ``PermissionDenied``
(``authenticate`` then answers None) and leaves the lock-out on the request, where the
console handler turns it into a 429 with ``raise_if_locked_out`` (the admin's page shows its
usual "wrong e-mail or password" instead); Django's ``user_login_failed`` signal counts the
failures, ``user_logged_in`` resets the account's.

If Redis cannot be reached the throttle lets attempts through (logged): sign-ins and API
keys are checked against Postgres and keep working; only the throttling pauses.

The client address is ``REMOTE_ADDR`` as the server reports it; see ``client_address`` for
proxies. IPv6 addresses are counted per /64 (what one host usually gets).
"""

import functools
import hashlib
import ipaddress
import logging
import math
from dataclasses import dataclass

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest
from redis.commands.core import Script

from kernel.errors import Throttled
from kernel.redis_connection import async_redis_client, redis_client

logger = logging.getLogger(__name__)

KEY_PREFIX = "ministudio:auth-throttle"
#: Where the backend leaves a lock-out for the handler that called ``authenticate``.
_REQUEST_ATTRIBUTE = "_ministudio_login_lockout"

# KEYS: counters; ARGV[1]: their lifetime in seconds, ARGV[1 + i]: KEYS[i]'s limit.
# A counter's lifetime starts at its first failure and starts again at the failure that
# reaches its limit (the lock-out); a key somehow left without a TTL gets one.
_COUNT_FAILURE = """
local lifetime = tonumber(ARGV[1])
local counts = {}
for i, key in ipairs(KEYS) do
    local count = redis.call('INCR', key)
    if count == tonumber(ARGV[i + 1]) or redis.call('TTL', key) < 0 then
        redis.call('EXPIRE', key, lifetime)
    end
    counts[i] = count
end
return counts
"""


@functools.cache
def _count_failure_script(client: redis.Redis) -> Script:
    return client.register_script(_COUNT_FAILURE)


@dataclass(frozen=True)
class _Counter:
    key: str
    limit: int
    label: str  # for the log: "account 'a@b.c'", "address 10.0.0.1"


# --- client address ------------------------------------------------------------------------


def client_address(request: HttpRequest) -> str:
    """The address failures are counted against.

    By default ``REMOTE_ADDR``: the peer of the web server, or the client uvicorn found in
    ``X-Forwarded-For`` when the peer is one of ``FORWARDED_ALLOW_IPS``. With
    ``FORWARDED_ALLOW_IPS=*`` (the compose file and the Kubernetes manifests) uvicorn takes
    the header's *first* entry, which the client itself may have written; there, set
    ``MINISTUDIO_TRUSTED_PROXY_COUNT`` to the number of proxies in front of the platform
    (1 for the compose file's nginx): the address is then the entry that many places from
    the right of ``X-Forwarded-For``, the one the outermost trusted proxy appended. A
    request without the header (one that came past the proxies) keeps ``REMOTE_ADDR``.
    """
    address = request.META.get("REMOTE_ADDR") or ""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        entries = [entry.strip() for entry in forwarded.split(",") if entry.strip()]
        if entries:
            address = entries[-min(hops, len(entries))]
    return _bucket(address)


def _bucket(address: str) -> str:
    """A canonical form: IPv4 as is, IPv6 by its /64; anything unparsable, cut short."""
    try:
        ip = ipaddress.ip_address(_without_port(address))
    except ValueError:
        return "".join(ch for ch in address[:64] if ch.isalnum() or ch in ".:-[]") or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def _without_port(address: str) -> str:
    # "[2001:db8::1]:443" and "203.0.113.7:51234" (some proxies add the port).
    if address.startswith("[") and "]" in address:
        return address[1 : address.index("]")]
    if address.count(":") == 1:
        return address.split(":", 1)[0]
    return address


# --- counters ------------------------------------------------------------------------------


def _account_counter(email: str) -> _Counter:
    normalised = email.strip().lower()
    digest = hashlib.sha256(normalised.encode()).hexdigest()[:32]
    return _Counter(
        f"{KEY_PREFIX}:login:account:{digest}",
        settings.LOGIN_FAILURES_PER_ACCOUNT,
        f"account {normalised!r}",
    )


def _login_address_counter(address: str) -> _Counter:
    return _Counter(
        f"{KEY_PREFIX}:login:address:{address}",
        settings.LOGIN_FAILURES_PER_ADDRESS,
        f"address {address}",
    )


def _api_key_address_counter(address: str) -> _Counter:
    return _Counter(
        f"{KEY_PREFIX}:api-key:address:{address}",
        settings.API_KEY_FAILURES_PER_ADDRESS,
        f"address {address}",
    )


def _login_counters(request: HttpRequest, email: str) -> list[_Counter]:
    return [_account_counter(email), _login_address_counter(client_address(request))]


def _lockout_seconds(counters: list[_Counter]) -> int | None:
    """Seconds until the last of ``counters`` that is at its limit expires; None if none is."""
    counters = [c for c in counters if c.limit > 0]
    if not counters:
        return None
    try:
        pipe = redis_client().pipeline(transaction=False)
        for counter in counters:
            pipe.get(counter.key)
            pipe.pttl(counter.key)
        replies = pipe.execute()
    except redis.RedisError:
        logger.warning("Auth throttle: Redis unreachable; not checking lock-outs", exc_info=True)
        return None
    return _longest_wait(counters, replies)


async def _alockout_seconds(counters: list[_Counter]) -> int | None:
    """``_lockout_seconds`` for async code."""
    counters = [c for c in counters if c.limit > 0]
    if not counters:
        return None
    try:
        pipe = async_redis_client().pipeline(transaction=False)
        for counter in counters:
            pipe.get(counter.key)
            pipe.pttl(counter.key)
        replies = await pipe.execute()
    except redis.RedisError:
        logger.warning("Auth throttle: Redis unreachable; not checking lock-outs", exc_info=True)
        return None
    return _longest_wait(counters, replies)


def _longest_wait(counters: list[_Counter], replies: list) -> int | None:
    """From each counter's GET and PTTL: the longest lock-out among those at their limit."""
    waits = [
        math.ceil(ttl / 1000) if ttl > 0 else settings.AUTH_LOCKOUT_SECONDS
        for counter, count, ttl in zip(counters, replies[::2], replies[1::2], strict=True)
        if count is not None and int(count) >= counter.limit and ttl != -2
    ]
    return max(max(waits), 1) if waits else None


def _count_failure(counters: list[_Counter], what: str) -> None:
    counters = [c for c in counters if c.limit > 0]
    if not counters:
        return
    lifetime = settings.AUTH_LOCKOUT_SECONDS
    try:
        counts = _count_failure_script(redis_client())(
            keys=[c.key for c in counters], args=[lifetime, *[c.limit for c in counters]]
        )
    except redis.RedisError:
        logger.warning("Auth throttle: Redis unreachable; %s not counted", what, exc_info=True)
        return
    for counter, count in zip(counters, counts, strict=True):
        if count == counter.limit:
            logger.warning(
                "%s: %d failures from %s; locked out for %d s",
                what,
                count,
                counter.label,
                lifetime,
            )
    logger.info(
        "%s (%s)",
        what,
        ", ".join(f"{c.label}: {n}/{c.limit}" for c, n in zip(counters, counts, strict=True)),
    )


# --- sign-ins ------------------------------------------------------------------------------


def login_lockout(request: HttpRequest, email: str) -> int | None:
    """Seconds until sign-ins for ``email`` from this request's address may be tried again."""
    return _lockout_seconds(_login_counters(request, email))


def record_login_failure(request: HttpRequest, email: str) -> None:
    """Count a wrong e-mail or password (the password is never logged)."""
    _count_failure(_login_counters(request, email), "Failed sign-in")


def reset_login_failures(email: str) -> None:
    """A successful sign-in: the account's failures are forgotten (the address's are not)."""
    try:
        redis_client().delete(_account_counter(email).key)
    except redis.RedisError:
        logger.warning("Auth throttle: Redis unreachable; failures not reset", exc_info=True)


def raise_if_locked_out(request: HttpRequest) -> None:
    """After ``authenticate`` answered None: a 429 if that was a lock-out, not a wrong
    password."""
    retry_after = getattr(request, _REQUEST_ATTRIBUTE, None)
    if retry_after is not None:
        raise Throttled(
            "Too many failed sign-ins for this account or from this address; "
            f"try again in {retry_after} s.",
            code="Throttling.Login",
            retry_after=retry_after,
        )


class LockoutBackend(ModelBackend):
    """Listed before Django's ``ModelBackend``: refuses a locked-out sign-in, else steps
    aside (None) and lets ``ModelBackend`` check the password.

    Like axes's ``AxesBackend`` it is a ``ModelBackend`` only so that ``get_user`` works for
    sessions it is recorded in (the test client's ``force_login`` picks the first backend);
    it never accepts a password itself. Failures are counted by ``_count_login_failure``
    (Django's ``user_login_failed`` signal) and reset by ``_reset_on_login``
    (``user_logged_in``). Only attempts that come with a request are throttled: there is no
    address otherwise.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        email = username if username is not None else kwargs.get(get_user_model().USERNAME_FIELD)
        if request is None or not isinstance(email, str):
            return None
        retry_after = login_lockout(request, email)
        if retry_after is None:
            return None
        setattr(request, _REQUEST_ATTRIBUTE, retry_after)
        logger.info(
            "Sign-in for %r from %s refused: locked out for %d s more",
            email.strip().lower(),
            client_address(request),
            retry_after,
        )
        raise PermissionDenied("Locked out.")


@receiver(user_login_failed)
def _count_login_failure(sender, credentials: dict, request: HttpRequest | None = None, **kw):
    email = credentials.get("username", credentials.get(get_user_model().USERNAME_FIELD))
    if request is None or not isinstance(email, str):
        return
    if getattr(request, _REQUEST_ATTRIBUTE, None) is not None:
        return  # refused for a lock-out: not counted, so it does not prolong itself
    record_login_failure(request, email)


@receiver(user_logged_in)
def _reset_on_login(sender, request: HttpRequest | None, user, **kwargs) -> None:
    email = getattr(user, "email", None)
    if email:
        reset_login_failures(email)


# --- API keys ------------------------------------------------------------------------------


def api_key_lockout(request: HttpRequest) -> int | None:
    """Seconds until API keys from this request's address are looked at again."""
    return _lockout_seconds([_api_key_address_counter(client_address(request))])


def record_api_key_failure(request: HttpRequest) -> None:
    """Count a key that was refused (unknown, malformed, revoked or expired); the key
    itself is never logged."""
    _count_failure([_api_key_address_counter(client_address(request))], "Refused API key")


def check_api_key_allowed(request: HttpRequest) -> None:
    """429 while this address is locked out, whether or not the key it presents is valid."""
    _refuse_if_locked_out(request, api_key_lockout(request))


async def acheck_api_key_allowed(request: HttpRequest) -> None:
    """``check_api_key_allowed`` for async code."""
    address = _api_key_address_counter(client_address(request))
    _refuse_if_locked_out(request, await _alockout_seconds([address]))


def _refuse_if_locked_out(request: HttpRequest, retry_after: int | None) -> None:
    if retry_after is not None:
        logger.info(
            "API key from %s refused: locked out for %d s more",
            client_address(request),
            retry_after,
        )
        raise Throttled(
            f"Too many invalid API keys from this address; try again in {retry_after} s.",
            code="Throttling.ApiKey",
            retry_after=retry_after,
        )
