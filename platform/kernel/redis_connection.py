"""The platform's own Redis connection (usage buffer, quota counters), one pool per process.

Django's cache and Celery have their own connections to the same server (``REDIS_URL``).
"""

import threading

import redis
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
