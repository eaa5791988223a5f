"""Calling a tool against a real HTTP server: the request it sends, the result it gives,
and the failures that must come back as error results (never exceptions, never secrets)."""

import base64

import pytest

from apps.http_tools import services
from apps.http_tools.models import HttpTool
from apps.plugins.invocation import Invocation
from kernel.errors import InvalidParameter
from plugins.base import ToolResult, ToolSpec

pytestmark = pytest.mark.django_db

CITY_PARAMETERS = {
    "type": "object",
    "properties": {
        "city": {"type": "string"},
        "days": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "units": {"type": "string", "enum": ["metric", "imperial"]},
        "detailed": {"type": "boolean"},
    },
    "required": ["city"],
}


def make(console, upstream_api, **fields) -> dict:
    body = {
        "name": "weather",
        "url": upstream_api.base_url + "/cities/{city}/weather?lang=zh",
        "parameters": CITY_PARAMETERS,
        **fields,
    }
    response = console.post("/http-tools", body)
    assert response.status_code == 201, response.content
    return response.json()


def invoke(console, tool: dict, arguments: dict) -> dict:
    response = console.post(f"/http-tools/{tool['id']}/invoke", {"arguments": arguments})
    assert response.status_code == 200, response.content
    return response.json()


def test_get_sends_path_and_query(acme_console, upstream_api):
    tool = make(acme_console, upstream_api)
    result = invoke(
        acme_console,
        tool,
        {"city": "San Francisco/CA", "days": 3, "tags": ["a", "b"], "detailed": True},
    )
    assert result["is_error"] is False, result
    assert result["tool"] == "weather"
    assert result["duration_ms"] >= 0
    received = upstream_api.last
    assert received.method == "GET"
    # URL-quoted: a "/" in the value cannot reach another path.
    assert received.path == "/cities/San%20Francisco%2FCA/weather"
    assert received.query == {
        "lang": ["zh"],
        "days": ["3"],
        "tags": ["a", "b"],
        "detailed": ["true"],
    }
    assert received.body == b""
    assert result["data"]["status"] == 200
    assert result["data"]["body"]["city"] == "杭州"
    assert '"city": "杭州"' in result["content"]  # readable for the model, not \\u-escaped


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH"])
def test_body_methods_send_json_and_header_arguments(acme_console, upstream_api, method):
    parameters = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "item": {"type": "string"},
            "qty": {"type": "number"},
            "note": {"type": ["string", "null"]},
            "X-Request-Id": {"type": "string"},
            "dry_run": {"type": "boolean"},
        },
        "required": ["id", "item"],
    }
    tool = make(
        acme_console,
        upstream_api,
        name="order",
        method=method,
        url=upstream_api.base_url + "/orders/{id}",
        parameters=parameters,
        parameter_locations={"X-Request-Id": "header", "dry_run": "query"},
    )
    result = invoke(
        acme_console,
        tool,
        {
            "id": 7,
            "item": "茶",
            "qty": 2.5,
            "note": None,
            "X-Request-Id": "req-1",
            "dry_run": False,
        },
    )
    assert result["is_error"] is False, result
    received = upstream_api.last
    assert (received.method, received.path) == (method, "/orders/7")
    assert received.json() == {"item": "茶", "qty": 2.5, "note": None}
    assert received.headers["content-type"].startswith("application/json")
    assert received.headers["x-request-id"] == "req-1"
    assert received.query == {"dry_run": ["false"]}


def test_delete_sends_arguments_in_the_query(acme_console, upstream_api):
    tool = make(acme_console, upstream_api, name="remove", method="DELETE")
    assert invoke(acme_console, tool, {"city": "Paris", "days": 1})["is_error"] is False
    received = upstream_api.last
    assert received.method == "DELETE"
    assert received.query == {"lang": ["zh"], "days": ["1"]}
    assert received.body == b""


@pytest.mark.parametrize(
    ("auth", "check"),
    [
        (
            {"type": "bearer", "secret": "tok-BEARER-1"},
            lambda r: r.headers["authorization"] == "Bearer tok-BEARER-1",
        ),
        (
            {"type": "basic", "secret": {"username": "ann", "password": "pw-BASIC-2"}},
            lambda r: (
                r.headers["authorization"]
                == "Basic " + base64.b64encode(b"ann:pw-BASIC-2").decode()
            ),
        ),
        (
            {"type": "api_key", "name": "X-API-Key", "secret": "key-HEADER-3"},
            lambda r: r.headers["x-api-key"] == "key-HEADER-3" and "authorization" not in r.headers,
        ),
        (
            {"type": "api_key", "location": "query", "name": "appkey", "secret": "key QUERY&4"},
            lambda r: r.query["appkey"] == ["key QUERY&4"] and r.query["lang"] == ["zh"],
        ),
    ],
)
def test_auth_as_the_server_receives_it(acme_console, upstream_api, auth, check):
    tool = make(acme_console, upstream_api, auth=auth)
    result = invoke(acme_console, tool, {"city": "Rome"})
    assert result["is_error"] is False, result
    assert check(upstream_api.last)


def test_a_patch_without_the_secret_keeps_sending_it(acme_console, upstream_api):
    tool = make(acme_console, upstream_api, auth={"type": "bearer", "secret": "tok-KEEP-5"})
    acme_console.patch(f"/http-tools/{tool['id']}", {"description": "new", "auth": {}})
    invoke(acme_console, tool, {"city": "Oslo"})
    assert upstream_api.last.headers["authorization"] == "Bearer tok-KEEP-5"


@pytest.mark.parametrize(
    "auth",
    [
        {"type": "bearer", "secret": "tok-ECHOED-6"},
        {"type": "basic", "secret": {"username": "ann", "password": "pw-ECHOED-6"}},
        {"type": "api_key", "location": "query", "name": "k", "secret": "key/ECHOED 6"},
    ],
)
def test_a_secret_echoed_by_the_server_is_scrubbed(acme_console, upstream_api, auth):
    tool = make(acme_console, upstream_api, url=upstream_api.base_url + "/echo-headers", auth=auth)
    response = acme_console.post(f"/http-tools/{tool['id']}/invoke", {"arguments": {"city": "x"}})
    text = response.content.decode()
    assert "ECHOED" not in text
    assert "***" in text


def test_an_upstream_error_is_an_error_result(acme_console, upstream_api):
    tool = make(
        acme_console,
        upstream_api,
        url=upstream_api.base_url + "/fail",
        auth={"type": "bearer", "secret": "tok-FAIL-7"},
    )
    result = invoke(acme_console, tool, {"city": "Lima"})
    assert result["is_error"] is True
    assert result["content"] == "HTTP 500 from 127.0.0.1: database exploded: trace 42"
    assert result["data"]["status"] == 500
    assert "tok-FAIL-7" not in str(result)


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/iam/",
        "http://127.0.0.2:8080/admin",
        "http://10.0.0.1/",
        "http://[::1]:8080/",
        "http://metadata.google.internal/computeMetadata/v1/",
    ],
)
def test_a_blocked_address_is_an_error_result(acme_console, upstream_api, url):
    # upstream_api allows 127.0.0.1/32 only: its neighbours and the rest stay blocked.
    tool = make(acme_console, upstream_api, url=url, auth={"type": "bearer", "secret": "tok-SSRF"})
    result = invoke(acme_console, tool, {"city": "x"})
    assert result["is_error"] is True
    assert "BlockedAddress" in result["content"]
    assert "tok-SSRF" not in str(result)
    assert not upstream_api.received


def test_without_the_allow_list_loopback_is_blocked(acme_console, upstream_api, monkeypatch):
    tool = make(acme_console, upstream_api)
    monkeypatch.delenv("MINISTUDIO_TOOLS_ALLOWED_NETWORKS")
    result = invoke(acme_console, tool, {"city": "x"})
    assert result["is_error"] is True
    assert "loopback" in result["content"]
    assert not upstream_api.received


def test_a_slow_server_times_out(acme_console, upstream_api):
    tool = make(acme_console, upstream_api, url=upstream_api.base_url + "/slow", timeout_seconds=1)
    result = invoke(acme_console, tool, {"city": "x"})
    assert result["is_error"] is True
    assert "1 seconds" in result["content"]
    assert result["duration_ms"] < 1900


def test_long_answers_are_truncated_for_the_model(acme_console, upstream_api):
    tool = make(acme_console, upstream_api, url=upstream_api.base_url + "/big")
    result = invoke(acme_console, tool, {"city": "x"})
    assert result["is_error"] is False
    assert len(result["content"]) < 8100
    assert result["content"].startswith("x" * 8000)
    assert "truncated: 20,000 characters" in result["content"]


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({}, "arguments.city: is required"),
        ({"city": 12}, "arguments.city: expected string, got integer"),
        ({"city": "x", "days": "3"}, "arguments.days: expected integer, got string"),
        ({"city": "x", "days": True}, "arguments.days: expected integer, got boolean"),
        ({"city": "x", "units": "kelvin"}, 'arguments.units: must be one of "metric", "imperial"'),
        ({"city": "x", "tags": ["a", 1]}, "arguments.tags[1]: expected string"),
        ({"city": ".."}, "arguments.city: may not be empty, '.' or '..'"),
    ],
)
def test_bad_arguments_are_a_400_and_nothing_is_sent(
    acme_console, upstream_api, arguments, problem
):
    tool = make(acme_console, upstream_api)
    response = acme_console.post(f"/http-tools/{tool['id']}/invoke", {"arguments": arguments})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert problem in response.json()["message"]
    assert not upstream_api.received


def test_the_runtime_api(acme, upstream_api):
    tool = services.create_http_tool(
        acme,
        name="weather",
        description="Weather of a city.",
        url=upstream_api.base_url + "/cities/{city}",
        parameters=CITY_PARAMETERS,
    )
    spec = services.tool_spec(tool)
    assert spec == ToolSpec(
        name="weather", description="Weather of a city.", parameters=CITY_PARAMETERS
    )
    assert spec.as_function_tool()["function"]["name"] == "weather"
    invocation = services.invoke_http_tool(tool, {"city": "Kyiv", "days": 2.0})
    assert isinstance(invocation, Invocation)
    assert isinstance(invocation.result, ToolResult)
    assert invocation.result.is_error is False
    assert upstream_api.last.query == {"days": ["2"]}  # an integer, as the schema says
    with pytest.raises(InvalidParameter):
        services.invoke_http_tool(tool, {"days": 1})


def test_an_unreadable_secret_is_an_error_result(acme, upstream_api):
    tool = services.create_http_tool(
        acme,
        name="weather",
        url=upstream_api.base_url + "/x",
        auth={"type": "bearer", "secret": "tok-LOST"},
    )
    HttpTool.objects.filter(pk=tool.pk).update(encrypted_secret="gAAAAA-not-a-token")
    tool.refresh_from_db()
    result = services.invoke_http_tool(tool, {}).result
    assert result.is_error is True
    assert "cannot be decrypted" in result.content
    assert not upstream_api.received
