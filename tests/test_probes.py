"""/livez and /healthz: what a kubelet, Docker's HEALTHCHECK or a load balancer asks."""

import pytest
from django.core.cache import cache
from django.db import connection

pytestmark = pytest.mark.django_db


def test_healthz_is_ready_when_postgres_and_redis_answer(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok"}
    assert response["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("down", "service", "method"),
    [("redis", cache, "get"), ("database", connection, "cursor")],
)
def test_healthz_is_503_naming_the_service_that_is_down(client, monkeypatch, down, service, method):
    def refuse(*args, **kwargs):
        raise ConnectionError(f"{down} is gone")

    monkeypatch.setattr(service, method, refuse)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body[down] == "error: ConnectionError"
    assert body[({"redis", "database"} - {down}).pop()] == "ok"


def test_livez_asks_no_backing_service(client, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("liveness must not touch Postgres or Redis")

    monkeypatch.setattr(cache, "get", refuse)
    monkeypatch.setattr(connection, "cursor", refuse)
    response = client.get("/livez")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_probes_answer_any_host_and_plain_http(client, settings):
    """A kubelet asks by pod IP over HTTP, whatever ALLOWED_HOSTS and MINISTUDIO_HTTPS say."""
    settings.ALLOWED_HOSTS = ["studio.example.com"]
    settings.SECURE_SSL_REDIRECT = True
    for path in ("/livez", "/healthz"):
        assert client.get(path, HTTP_HOST="10.1.2.3:8000").status_code == 200
    # Everything else still gets Django's checks.
    assert client.get("/console/api/health", HTTP_HOST="10.1.2.3:8000").status_code == 400
