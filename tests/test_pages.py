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
    from apps.model_endpoints.services import create_endpoint
    from apps.plugins.services import sync_plugins

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


# --- the web console's build, served at / ---------------------------------------------------------

INDEX = b'<!doctype html><div id="root"></div><script src="/assets/index-AbCd1234.js"></script>'


@pytest.fixture
def console_build(tmp_path, settings):
    """A tiny stand-in for frontend/dist: index.html, a hashed asset, an unhashed file."""
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_bytes(INDEX)
    (tmp_path / "assets" / "index-AbCd1234.js").write_text("console.log('console')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    settings.FRONTEND_DIST = tmp_path
    settings.WHITENOISE_ROOT = tmp_path  # read when the test client builds its middleware
    return tmp_path


def test_with_a_build_the_console_is_served_at_the_root(client, console_build):
    response = client.get("/")
    assert response.status_code == 200
    assert response.content == INDEX
    assert response["Content-Type"].startswith("text/html")
    assert response["Cache-Control"] == "no-cache"


@pytest.mark.parametrize("route", ["/knowledge-bases", "/knowledge-bases/42", "/sign-in?next=/x"])
def test_client_routes_fall_back_to_the_console(client, console_build, route):
    response = client.get(route)
    assert (response.status_code, response.content) == (200, INDEX)
    assert response["Cache-Control"] == "no-cache"


def test_hashed_assets_are_cached_for_a_year_other_files_briefly(client, console_build):
    asset = client.get("/assets/index-AbCd1234.js")
    assert asset.status_code == 200
    assert "immutable" in asset["Cache-Control"] and "max-age=315360000" in asset["Cache-Control"]
    icon = client.get("/favicon.svg")
    assert icon.status_code == 200 and "immutable" not in icon["Cache-Control"]
    assert client.get("/index.html")["Cache-Control"] == "no-cache"


def test_a_missing_asset_is_a_404_not_the_console(client, console_build):
    # A stale tab asking for an old asset must not get HTML back for a script.
    assert client.get("/static/nothing.js").status_code == 404
    assert client.get("/assets/index-Old12345.js").status_code == 404


@pytest.mark.parametrize(
    "path", ["/console/api/no-such-thing", "/api/v1/nothing-here", "/compatible-mode/v1/nope"]
)
def test_api_paths_keep_their_json_404s_beside_the_console(client, console_build, path):
    response = client.get(path)
    assert response.status_code in (401, 404)
    assert response["Content-Type"].startswith("application/json")


def test_the_api_and_admin_still_answer_beside_the_console(client, console_build):
    assert client.get("/console/api/health").json()["status"] == "ok"
    assert client.get("/admin/login/").status_code == 200
    assert client.get("/admin").status_code == 301  # Django's slash, not the console


def test_writes_to_a_client_route_are_refused(client, console_build):
    assert client.post("/knowledge-bases").status_code == 405
