"""The platform's ground: what every app stands on and nothing of the platform's own.

Errors and their wire shapes, encryption at rest, the Redis connection, the per-process
configuration cache, token counting, paging, the API edge's checks and the request id. The
kernel imports no app and no part of ``studio`` (settings and assembly); apps import it.
See ``docs/architecture.md``.
"""
