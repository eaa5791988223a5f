"""Liveness of the web process and its two backing services."""

from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest
from ninja import Router, Schema, Status

router = Router(tags=["health"])


class HealthOut(Schema):
    status: str
    database: str
    redis: str


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # report, don't raise: this endpoint exists to say what is down
        return f"error: {type(exc).__name__}"


def _check_redis() -> str:
    try:
        cache.get("health-probe")
        return "ok"
    except Exception as exc:
        return f"error: {type(exc).__name__}"


def backing_services() -> dict[str, str]:
    """``status`` ``ok`` when Postgres and Redis both answer, else ``degraded``."""
    database, redis = _check_database(), _check_redis()
    ok = database == "ok" and redis == "ok"
    return {"status": "ok" if ok else "degraded", "database": database, "redis": redis}


@router.get("/health", auth=None, response={200: HealthOut, 503: HealthOut})
def health(request: HttpRequest):
    body = backing_services()
    return Status(200 if body["status"] == "ok" else 503, body)
