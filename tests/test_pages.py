"""What a person or a tool sees at the top level: start page, API reference, static files."""

import re

import pytest

pytestmark = pytest.mark.django_db  # the start page asks whether a chat model exists


def test_the_start_page_links_admin_and_api_reference(client):
    response = client.get("/")
    assert response.status_code == 200
    page = response.content.decode()
    for link in ("/admin/", "/console/api/docs", "/console/api/openapi.json"):
        assert f'href="{link}' in page


def test_without_a_chat_model_the_start_page_says_how_to_add_one(client):
    page = client.get("/").content.decode()
    assert "No chat model is registered yet" in page
    for way in ("DASHSCOPE_API_KEY", "OPENAI_BASE_URL", "ministudio[local-llm]", "Admin"):
        assert way in page


def test_once_a_chat_model_exists_the_start_page_stops_saying_so(client):
    from apps.endpoints.services import create_endpoint
    from apps.registry.services import sync_plugins

    sync_plugins()
    create_endpoint(
        name="qwen-plus",
        provider="dashscope",
        upstream_model="qwen-plus",
        capabilities=["chat"],
        settings={"api_key": "sk-x"},
    )
    assert "No chat model" not in client.get("/").content.decode()


def test_an_unknown_page_is_a_friendly_html_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert b"/no/such/page" in response.content


def test_the_openapi_schema_lists_the_console_endpoints(client):
    schema = client.get("/console/api/openapi.json").json()
    assert schema["info"]["title"] == "ministudio console API"
    for path in (
        "/console/api/auth/login",
        "/console/api/members/{member_id}",
        "/console/api/api-keys",
    ):
        assert path in schema["paths"]


def test_the_api_reference_works_offline(client):
    page = client.get("/console/api/docs").content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', page)
    assert assets, "the docs page should load its Swagger UI assets"
    assert all(not a.startswith(("http://", "https://", "//")) for a in assets), assets
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_admin_static_files_are_served_without_collectstatic(client):
    response = client.get("/static/admin/css/base.css")
    assert response.status_code == 200


def test_health_reports_database_and_redis(client):
    assert client.get("/console/api/health").json() == {
        "status": "ok",
        "database": "ok",
        "redis": "ok",
    }


def test_health_says_which_service_is_down(client, monkeypatch):
    from django.core.cache import cache

    def refuse(*args, **kwargs):
        raise ConnectionError("redis is gone")

    monkeypatch.setattr(cache, "get", refuse)
    response = client.get("/console/api/health")
    assert response.status_code == 503
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "redis": "error: ConnectionError",
    }
