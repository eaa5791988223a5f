"""A per-process cache of the configuration every gateway call reads (which endpoint a
model name routes to, its provider and settings, the quotas that bind it), so that the hot
path does not ask Postgres the same questions on every call.

Entries are tagged with the *configuration version*, a counter in Redis that every change
to a cached model bumps once its transaction commits (see ``invalidate_on_change``). A
call reads the counter (one Redis GET) and uses an entry only when its tag matches, so a
revoked grant, a disabled endpoint or a new quota binds the very next call in every
process. When Redis cannot be read, nothing is served from the cache. Entries also expire
after ``MAX_AGE_SECONDS``: a backstop for a change whose bump was lost while Redis was down.
"""

import logging
import threading
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, TypeVar

import redis
from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

from kernel.redis_connection import async_redis_client, redis_client

logger = logging.getLogger(__name__)

VERSION_KEY = "ministudio:config-version"
MAX_AGE_SECONDS = 60.0
MAX_ENTRIES = 10_000

T = TypeVar("T")

_entries: dict[Hashable, tuple[bytes, float, Any]] = {}
_lock = threading.Lock()


def current_version() -> bytes | None:
    """The configuration version, or None when Redis cannot say (then: no caching)."""
    try:
        return redis_client().get(VERSION_KEY) or b"0"
    except redis.RedisError:
        return None


async def acurrent_version() -> bytes | None:
    """``current_version``, for async code: no thread, no blocking of the loop."""
    try:
        return await async_redis_client().get(VERSION_KEY) or b"0"
    except redis.RedisError:
        return None


_MISSING: Any = object()


def _entry(key: Hashable, version: bytes | None) -> Any:
    """The value cached for ``key`` at ``version``, or ``_MISSING``."""
    if version is None:
        return _MISSING
    hit = _entries.get(key)
    if hit is not None and hit[0] == version and time.monotonic() - hit[1] < MAX_AGE_SECONDS:
        return hit[2]
    return _MISSING


def _keep(key: Hashable, version: bytes | None, value: T) -> T:
    if version is not None:
        with _lock:
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
            _entries[key] = (version, time.monotonic(), value)
    return value


def cached(key: Hashable, version: bytes | None, load: Callable[[], T]) -> T:
    """``load()``'s value for ``key``, from the cache when it was loaded at ``version``."""
    value = _entry(key, version)
    return _keep(key, version, load()) if value is _MISSING else value


async def acached(
    key: Hashable, version: bytes | None, load: Callable[..., Awaitable[T]], *args: Any
) -> T:
    """``cached``, for async code: ``load(*args)`` is awaited only on a miss (typically a
    database read handed to a thread with ``sync_to_async``)."""
    value = _entry(key, version)
    return _keep(key, version, await load(*args)) if value is _MISSING else value


def bump_version() -> None:
    """Tell every process that the configuration changed."""
    try:
        redis_client().incr(VERSION_KEY)
    except redis.RedisError as exc:
        logger.warning(
            "Could not bump the configuration version (%s); caches expire in %ss",
            exc,
            MAX_AGE_SECONDS,
        )
    clear()  # this process's entries go at once, whatever Redis said


def clear() -> None:
    """Forget every entry of this process."""
    with _lock:
        _entries.clear()


def _on_change(sender: type[models.Model], **kwargs: Any) -> None:
    transaction.on_commit(bump_version)


def invalidate_on_change(*model_classes: type[models.Model]) -> None:
    """Bump the version after any save or delete of these models commits (from an app's
    ``ready()``). Bulk ``update()`` sends no signal: services that use it bump themselves."""
    for model_class in model_classes:
        post_save.connect(_on_change, sender=model_class, dispatch_uid=f"config-{model_class}")
        post_delete.connect(_on_change, sender=model_class, dispatch_uid=f"config-{model_class}-d")
