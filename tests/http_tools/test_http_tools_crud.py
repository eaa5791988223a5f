"""Creating, reading, changing and deleting custom HTTP tools, and every rule a tool obeys."""

import pytest
from django.db import connection

from apps.http_tools.models import HttpTool
from kernel.encryption import decrypt_json
from tests.console import ConsoleClient
from tests.http_tools.conftest import create_tool

pytestmark = pytest.mark.django_db

WEATHER = {
    "name": "get_weather",
    "description": "Current weather and forecast of a city.",
    "method": "GET",
    "url": "https://api.example.com/v1/cities/{city}/weather",
    "parameters": {
        "type": "object",
        "properties": {
            "city": {"type": "string", "description": "City name"},
            "days": {"type": "integer"},
            "x-trace": {"type": "string"},
        },
        "required": ["city"],
    },
    "parameter_locations": {"x-trace": "header"},
    "auth": {"type": "bearer", "secret": "tok-SUPERSECRET-123"},
    "timeout_seconds": 5,
}


def test_create_read_update_delete(acme_console):
    created = acme_console.post("/http-tools", WEATHER)
    assert created.status_code == 201, created.content
    tool = created.json()
    assert tool["name"] == "get_weather"
    assert tool["method"] == "GET"
    assert tool["url"] == WEATHER["url"]
    assert tool["parameters"] == WEATHER["parameters"]
    assert tool["parameter_locations"] == {"city": "path", "days": "query", "x-trace": "header"}
    assert tool["auth"] == {"type": "bearer", "location": None, "name": None, "has_secret": True}
    assert tool["timeout_seconds"] == 5
    assert tool["source"] == "manual"
    assert tool["openapi_operation_id"] == ""

    assert [t["id"] for t in acme_console.get("/http-tools").json()] == [tool["id"]]
    assert acme_console.get(f"/http-tools/{tool['id']}").json() == tool

    changed = acme_console.patch(
        f"/http-tools/{tool['id']}", {"method": "POST", "description": "Changed"}
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["description"] == "Changed"
    # Defaults follow the method: a POST sends its non-path arguments in the JSON body.
    assert changed.json()["parameter_locations"]["days"] == "body"
    assert changed.json()["auth"]["has_secret"] is True

    assert acme_console.delete(f"/http-tools/{tool['id']}").status_code == 204
    assert acme_console.get(f"/http-tools/{tool['id']}").status_code == 404
    assert not HttpTool.objects.exists()


def test_defaults(acme_console):
    tool = create_tool(acme_console)
    assert tool["method"] == "GET"
    assert tool["parameters"] == {"type": "object", "properties": {}}
    assert tool["auth"] == {"type": "none", "location": None, "name": None, "has_secret": False}
    assert tool["timeout_seconds"] == 10


def test_a_developer_may_create_and_a_viewer_may_only_read(acme_console, charlie, vera):
    tool = create_tool(acme_console)
    developer = ConsoleClient().as_user(charlie, "acme")
    assert developer.post("/http-tools", {**WEATHER, "name": "dev_tool"}).status_code == 201

    viewer = ConsoleClient().as_user(vera, "acme")
    assert viewer.get("/http-tools").status_code == 200
    assert viewer.get(f"/http-tools/{tool['id']}").status_code == 200
    response = viewer.post("/http-tools", {**WEATHER, "name": "viewer_tool"})
    assert response.status_code == 403
    assert response.json()["code"] == "AccessDenied"
    assert viewer.patch(f"/http-tools/{tool['id']}", {"description": "x"}).status_code == 403
    assert viewer.delete(f"/http-tools/{tool['id']}").status_code == 403
    assert viewer.post(f"/http-tools/{tool['id']}/invoke", {"arguments": {}}).status_code == 403
    assert viewer.post("/http-tools/import-openapi", {"document": {}}).status_code == 403
    assert HttpTool.objects.count() == 2


@pytest.mark.parametrize(
    "name", ["1weather", "get weather", "get.weather", "天气", "", "a" * 65, "_private"]
)
def test_bad_name(acme_console, name):
    response = acme_console.post("/http-tools", {**WEATHER, "name": name})
    assert response.status_code == 400
    assert response.json()["message"].startswith("name:")


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("ftp://api.example.com/weather", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("api.example.com/weather", "http:// or https://"),
        ("https:///nohost", "no host"),
        ("https://{city}.example.com/weather", "only stand in the path"),
        ("https://api.example.com/w?city={city}", "only stand in the path"),
        ("https://user:pw@api.example.com/weather", "credentials"),
        ("https://api.example.com/weather with space", "spaces"),
        ("https://api.example.com:99999/weather", "port"),
    ],
)
def test_bad_url(acme_console, url, problem):
    response = acme_console.post("/http-tools", {**WEATHER, "url": url})
    assert response.status_code == 400, response.content
    assert response.json()["message"].startswith("url:")
    assert problem in response.json()["message"]


@pytest.mark.parametrize(
    ("parameters", "problem"),
    [
        ({"type": "string"}, "top level"),
        ({"type": "object", "properties": []}, "properties: must be an object"),
        ({"type": "object", "properties": {"a": {"type": "strng"}}}, "type: must be one of"),
        ({"type": "object", "properties": {}, "required": ["a"]}, "names unknown properties"),
        ({"type": "object", "properties": {"a": {"$ref": "#/x"}}}, "$ref"),
        ({"type": "object", "properties": {"a": {"enum": []}}}, "enum"),
        ({"type": "object", "properties": {"a": "string"}}, "must be a schema object"),
    ],
)
def test_bad_parameters_schema(acme_console, parameters, problem):
    body = {**WEATHER, "url": "https://api.example.com/w", "parameters": parameters}
    body["parameter_locations"] = {}
    response = acme_console.post("/http-tools", body)
    assert response.status_code == 400, response.content
    assert response.json()["message"].startswith("parameters")
    assert problem in response.json()["message"]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"url": "https://api.example.com/{town}"}, "needs a property 'town'"),
        ({"parameters": {**WEATHER["parameters"], "required": []}}, "path parameter 'city'"),
        ({"parameter_locations": {"days": "path"}}, "the URL has no {days}"),
        ({"parameter_locations": {"city": "query"}}, "is a path"),
        ({"parameter_locations": {"days": "body"}}, "a GET request has no body"),
        ({"parameter_locations": {"nope": "query"}}, "not a property"),
        ({"parameter_locations": {"days": "cookie"}}, "parameter_locations"),
        ({"method": "TRACE"}, "method: must be one of"),
        ({"timeout_seconds": 31}, "timeout_seconds"),
        ({"timeout_seconds": 0}, "timeout_seconds"),
    ],
)
def test_bad_settings(acme_console, changes, problem):
    response = acme_console.post("/http-tools", {**WEATHER, **changes})
    assert response.status_code == 400, response.content
    assert problem in response.json()["message"]


def test_a_header_argument_may_not_set_what_the_client_owns(acme_console):
    parameters = {"type": "object", "properties": {"Host": {"type": "string"}}}
    response = acme_console.post(
        "/http-tools",
        {
            "name": "t",
            "url": "https://api.example.com/",
            "parameters": parameters,
            "parameter_locations": {"Host": "header"},
        },
    )
    assert response.status_code == 400
    assert "not a header an argument may set" in response.json()["message"]


def test_duplicate_name_is_a_conflict(acme_console):
    create_tool(acme_console)
    response = acme_console.post("/http-tools", {**WEATHER, "name": "get_weather"})
    assert response.status_code == 409
    assert response.json()["code"] == "Conflict"
    other = create_tool(acme_console, name="other")
    renamed = acme_console.patch(f"/http-tools/{other['id']}", {"name": "get_weather"})
    assert renamed.status_code == 409
    assert HttpTool.objects.count() == 2


@pytest.mark.parametrize(
    ("auth", "problem"),
    [
        ({"type": "oauth2", "secret": "abcd1234"}, "auth.type"),
        ({"type": "bearer"}, "auth.secret: required"),
        ({"type": "bearer", "secret": "ab"}, "auth.secret"),
        ({"type": "bearer", "secret": "line\nbreak"}, "control characters"),
        ({"type": "api_key", "secret": "abcd1234"}, "auth.name"),
        ({"type": "api_key", "name": "X Key", "secret": "abcd1234"}, "auth.name"),
        ({"type": "api_key", "name": "Host", "secret": "abcd1234"}, "auth.name"),
        ({"type": "basic", "secret": "abcd1234"}, "username"),
        ({"type": "basic", "secret": {"username": "a:b", "password": "pw12"}}, "username"),
        ({"type": "bearer", "name": "X-Key", "secret": "abcd1234"}, "only for auth.type api_key"),
        ({"type": "none", "secret": "abcd1234"}, "not used"),
    ],
)
def test_bad_auth(acme_console, auth, problem):
    response = acme_console.post("/http-tools", {**WEATHER, "auth": auth})
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "InvalidParameter"
    assert problem in response.json()["message"]
    assert not HttpTool.objects.exists()


def _raw_rows() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM http_tools_httptool")
        return repr(cursor.fetchall())


def test_the_secret_is_write_only_and_encrypted(acme_console):
    token = WEATHER["auth"]["secret"]
    bodies = []
    created = acme_console.post("/http-tools", WEATHER)
    bodies.append(created.content)
    tool_id = created.json()["id"]
    bodies.append(acme_console.get("/http-tools").content)
    bodies.append(acme_console.get(f"/http-tools/{tool_id}").content)
    bodies.append(acme_console.patch(f"/http-tools/{tool_id}", {"description": "x"}).content)
    basic = acme_console.post(
        "/http-tools",
        {
            **WEATHER,
            "name": "basic_tool",
            "auth": {"type": "basic", "secret": {"username": "ann", "password": "pw-HIDDEN-9"}},
        },
    )
    bodies.append(basic.content)
    bodies.append(acme_console.get("/openapi.json").content)
    for body in bodies:
        assert token.encode() not in body
        assert b"pw-HIDDEN-9" not in body
    assert token not in _raw_rows()
    assert "pw-HIDDEN-9" not in _raw_rows()
    stored = HttpTool.objects.get(pk=tool_id)
    assert decrypt_json(stored.encrypted_secret) == {"token": token}
    assert decrypt_json(HttpTool.objects.get(name="basic_tool").encrypted_secret) == {
        "username": "ann",
        "password": "pw-HIDDEN-9",
    }


def test_auth_changes(acme_console):
    tool = acme_console.post("/http-tools", WEATHER).json()
    path = f"/http-tools/{tool['id']}"
    stored = HttpTool.objects.get(pk=tool["id"]).encrypted_secret

    # Same type without a secret: the stored one stays.
    assert acme_console.patch(path, {"auth": {"type": "bearer"}}).json()["auth"]["has_secret"]
    assert HttpTool.objects.get(pk=tool["id"]).encrypted_secret == stored

    # Another type needs its own secret.
    response = acme_console.patch(path, {"auth": {"type": "api_key", "name": "X-API-Key"}})
    assert response.status_code == 400
    assert "auth.secret: required" in response.json()["message"]
    response = acme_console.patch(
        path, {"auth": {"type": "api_key", "name": "key", "location": "query", "secret": "k-1234"}}
    )
    assert response.json()["auth"] == {
        "type": "api_key",
        "location": "query",
        "name": "key",
        "has_secret": True,
    }
    assert decrypt_json(HttpTool.objects.get(pk=tool["id"]).encrypted_secret) == {"token": "k-1234"}

    # Back to none: the secret is forgotten.
    response = acme_console.patch(path, {"auth": {"type": "none"}})
    assert response.json()["auth"] == {
        "type": "none",
        "location": None,
        "name": None,
        "has_secret": False,
    }
    assert HttpTool.objects.get(pk=tool["id"]).encrypted_secret == ""


def test_new_parameters_forget_the_locations_of_dropped_arguments(acme_console):
    tool = acme_console.post("/http-tools", WEATHER).json()
    parameters = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    }
    response = acme_console.patch(f"/http-tools/{tool['id']}", {"parameters": parameters})
    assert response.status_code == 200, response.content
    assert response.json()["parameter_locations"] == {"city": "path"}
    assert HttpTool.objects.get(pk=tool["id"]).parameter_locations == {}


def test_unknown_and_malformed_ids(acme_console):
    # Ids are UUIDs, as everywhere in the console API: anything else is a malformed request.
    assert acme_console.get("/http-tools/not-a-uuid").status_code == 400
    assert acme_console.get("/http-tools/00000000-0000-0000-0000-000000000000").status_code == 404


def test_platform_admins_see_tools_in_the_admin_without_the_secret(acme_console, root):
    from django.test import Client

    tool = acme_console.post("/http-tools", WEATHER).json()
    admin = Client()
    admin.force_login(root)
    listing = admin.get("/admin/http_tools/httptool/?q=weather")
    assert listing.status_code == 200
    assert "get_weather" in listing.content.decode()
    page = admin.get(f"/admin/http_tools/httptool/{tool['id']}/change/")
    assert page.status_code == 200
    stored = HttpTool.objects.get(pk=tool["id"]).encrypted_secret
    for body in (listing.content.decode(), page.content.decode()):
        assert WEATHER["auth"]["secret"] not in body
        assert stored not in body
    assert admin.get("/admin/http_tools/httptool/add/").status_code == 403
    assert admin.get(f"/admin/http_tools/httptool/{tool['id']}/delete/").status_code == 403
