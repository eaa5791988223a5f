"""The platform's own Redis connection (usage buffer, quota counters), one pool per process.

Django's cache and Celery have their own connections to the same server (``REDIS_URL``).
"""

import functools

import redis
from django.conf import settings


@functools.cache
def _client(url: str) -> redis.Redis:
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL)
