"""The platform's own Redis connection (usage buffer, quota counters), one pool per process
(and, for async code, one per event loop).

Django's cache and Celery have their own connections to the same server (``REDIS_URL``).
"""

import asyncio
import threading
import weakref

import redis
import redis.asyncio
from django.conf import settings

_clients: dict[str, redis.Redis] = {}
_lock = threading.Lock()


def redis_client() -> redis.Redis:
    """This process's client for ``REDIS_URL``, made once.

    Made under a lock, not with ``functools.cache``: requests that arrive together at a new
    process would each build a client, and every client but the kept one would be
    collected at once, its ``__del__`` disconnecting the pool a request was still using
    (seen as "Bad file descriptor" answers on a fresh web process)."""
    url = settings.REDIS_URL
    client = _clients.get(url)
    if client is None:
        with _lock:
            client = _clients.get(url)
            if client is None:
                client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
                _clients[url] = client
    return client


_async_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, redis.asyncio.Redis]" = (
    weakref.WeakKeyDictionary()
)


def async_redis_client() -> redis.asyncio.Redis:
    """The running event loop's asyncio client for ``REDIS_URL``, made once per loop.

    An asyncio connection belongs to the loop that opened it, so a process that runs more
    than one loop (a test's server thread beside ``async_to_sync``) gets one pool per loop;
    a loop's pool goes with the loop. Called only from a coroutine."""
    loop = asyncio.get_running_loop()
    client = _async_clients.get(loop)
    if client is None:
        client = redis.asyncio.Redis.from_url(
            settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2
        )
        _async_clients[loop] = client
    return client
