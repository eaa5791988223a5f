"""The http_request tool: what a model gets back, and every way a call is refused."""

from __future__ import annotations

import json
import socket

import pytest
from pydantic import ValidationError

from plugins import safe_http
from plugins.base import ToolContext
from plugins.tools.http_request import (
    MAX_CONTENT_CHARS,
    HttpRequest,
    HttpRequestArguments,
    HttpRequestSettings,
)
from tests.plugins.test_safe_http import PNG, LocalServer, resolve_as


@pytest.fixture(scope="module")
def server():
    running = LocalServer()
    yield running
    running.close()


@pytest.fixture(autouse=True)
def allow_local(monkeypatch):
    # The operator's escape hatch, as in test_safe_http: the local server stands in for
    # the internet; every other internal address stays blocked.
    monkeypatch.setenv(safe_http.ALLOWED_NETWORKS_ENV, "127.0.0.1/32")


def call(**arguments_and_settings):
    settings = {
        key: arguments_and_settings.pop(key)
        for key in list(arguments_and_settings)
        if key in HttpRequestSettings.model_fields
    }
    arguments = HttpRequest.Arguments.model_validate(arguments_and_settings)
    context = ToolContext(settings=HttpRequest.Settings(**settings), workspace="acme")
    return HttpRequest().invoke(arguments, context)


def test_it_satisfies_the_contract():
    HttpRequest.check_contract()
    schema = HttpRequest.parameters_schema()
    assert schema["required"] == ["url"]
    assert set(schema["properties"]) == {"url", "method", "params", "body", "headers"}
    assert all(field.get("description") for field in schema["properties"].values())
    assert HttpRequest.enabled_by_default is False
    # The platform's backstop is above the longest request a workspace can configure.
    assert HttpRequestSettings(timeout_seconds=30).timeout_seconds == 30
    assert HttpRequest.timeout_seconds > 30


def test_get_json(server):
    result = call(url=server.url("/json"), params={"q": "tea", "page": 2})
    assert not result.is_error
    assert result.content.startswith("HTTP 200 OK (application/json) from ")
    assert '"hello": "world"' in result.content
    assert result.data["status"] == 200
    assert result.data["json"] == {
        "hello": "world",
        "path": "/json",
        "query": {"q": "tea", "page": "2"},
    }
    assert result.data["headers"]["content-type"] == "application/json"
    assert result.data["url"] == server.url("/json?q=tea&page=2")
    assert "text" not in result.data


def test_post_json_body_and_headers(server):
    result = call(
        url=server.url("/echo"),
        method="POST",
        body={"name": "茶", "n": [1, 2]},
        headers={"X-Trace": "t-1", "Accept": "application/json"},
    )
    echoed = result.data["json"]
    assert (echoed["method"], json.loads(echoed["body"])) == ("POST", {"name": "茶", "n": [1, 2]})
    assert echoed["headers"]["x-trace"] == "t-1"
    assert echoed["headers"]["accept"] == "application/json"


def test_text_and_html_come_back_as_text(server):
    html = call(url=server.url("/html"))
    assert html.data["text"] == "<html><title>Hi</title></html>"
    assert "json" not in html.data
    assert html.content.endswith("<html><title>Hi</title></html>")
    assert call(url=server.url("/gbk")).data["text"] == "你好，世界"


def test_invalid_json_is_shown_as_text(server):
    result = call(url=server.url("/notjson"))
    assert not result.is_error
    assert result.data["text"] == "{not json"


def test_http_errors_are_answers_the_model_reads(server):
    result = call(url=server.url("/status?code=404"))
    assert not result.is_error
    assert result.content.startswith("HTTP 404 Not Found (application/json)")
    assert result.data["status"] == 404


def test_binary_bodies_are_not_shown(server):
    result = call(url=server.url("/png"))
    assert f"[binary body of {len(PNG):,} bytes, not shown]" in result.content
    assert result.data["text"] is None


def test_long_bodies_are_truncated_for_the_model_but_whole_in_data(server):
    result = call(url=server.url("/big?n=50000"))
    assert not result.is_error
    assert len(result.content) < MAX_CONTENT_CHARS + 300
    assert result.content.endswith("[truncated: showing the first 8,000 of 50,000 characters]")
    assert result.data["text"] == "x" * 50_000


def test_the_response_size_setting(server):
    result = call(url=server.url("/big?n=5000"), max_response_bytes=4000)
    assert result.is_error
    assert "larger than the limit of 4,000 bytes" in result.content
    assert not call(url=server.url("/big?n=5000"), max_response_bytes=5000).is_error


def test_the_timeout_setting(server):
    result = call(url=server.url("/slow?s=3"), timeout_seconds=0.5)
    assert result.is_error
    assert "did not answer within 0.5 seconds" in result.content


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.2/", "loopback"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata endpoint"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://metadata.google.internal/", "cloud metadata endpoint"),
    ],
)
def test_internal_addresses_are_error_results(url, reason):
    result = call(url=url)
    assert result.is_error
    assert reason in result.content
    assert result.content.startswith("Refused to connect to")


def test_a_redirect_to_an_internal_address_is_an_error_result(server):
    result = call(url=server.url("/redirect"), params={"to": "http://169.254.169.254/"})
    assert result.is_error and "cloud metadata endpoint" in result.content


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "Only http and https"),
        ("example.com", "not an absolute URL"),
        ("http://", "has no host name"),
    ],
)
def test_bad_urls_are_error_results(url, reason):
    result = call(url=url)
    assert result.is_error and reason in result.content


def test_connection_failures_are_error_results():
    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    result = call(url=f"http://127.0.0.1:{port}/")
    assert result.is_error and "Could not connect" in result.content


def test_a_body_needs_post(server):
    result = call(url=server.url("/echo"), method="GET", body={"a": 1})
    assert result.is_error
    assert "only be sent with POST" in result.content
    assert call(url=server.url("/echo"), method="POST").data["json"]["body"] == ""


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"Host": "internal.example"}, "'Host' cannot be set"),
        ({"host": "x"}, "'host' cannot be set"),
        ({"Connection": "close"}, "cannot be set"),
        ({"Transfer-Encoding": "chunked"}, "cannot be set"),
        ({"Content-Length": "5"}, "cannot be set"),
        ({"Upgrade": "websocket"}, "cannot be set"),
        ({"TE": "trailers"}, "cannot be set"),
        ({"Proxy-Authorization": "Basic eA=="}, "cannot be set"),
        ({"Proxy-Anything": "x"}, "cannot be set"),
        ({"Bad Header": "x"}, "not a valid header name"),
        ({"X-Split": "a\r\nHost: evil"}, "line breaks"),
        ({"X-Long": "v" * 2001}, "too long"),
    ],
)
def test_refused_headers(server, headers, reason):
    before = len(server.seen)
    result = call(url=server.url("/echo"), headers=headers)
    assert result.is_error
    assert reason in result.content
    assert len(server.seen) == before  # refused before anything was sent


def test_malformed_arguments_fail_validation():
    with pytest.raises(ValidationError, match="method"):
        HttpRequestArguments(url="http://example.com/", method="DELETE")
    with pytest.raises(ValidationError, match="headers"):
        HttpRequestArguments(url="http://example.com/", headers={f"X-{i}": "v" for i in range(11)})
    with pytest.raises(ValidationError, match="url"):
        HttpRequestArguments(url="")
    with pytest.raises(ValidationError, match="url"):
        HttpRequestArguments(url="http://example.com/" + "a" * 2000)
    with pytest.raises(ValidationError, match="params"):
        HttpRequestArguments(url="http://example.com/", params={"nested": {"no": 1}})


def test_settings_bounds_and_defaults():
    defaults = HttpRequestSettings()
    assert (defaults.timeout_seconds, defaults.max_response_bytes, defaults.allowed_domains) == (
        10,
        200_000,
        None,
    )
    for invalid in (
        {"timeout_seconds": 31},
        {"timeout_seconds": 0},
        {"max_response_bytes": 2_000_001},
        {"max_response_bytes": 0},
        {"allowed_domains": ["https://example.com/path"]},
        {"allowed_domains": ["exa mple.com"]},
        {"unknown": 1},
    ):
        with pytest.raises(ValidationError):
            HttpRequestSettings(**invalid)
    normalised = HttpRequestSettings(
        allowed_domains=["*.Example.COM", ".api.test.", "127.0.0.1", "[::1]", "Bücher.example"]
    )
    assert normalised.allowed_domains == [
        "example.com",
        "api.test",
        "127.0.0.1",
        "::1",
        "xn--bcher-kva.example",
    ]


def test_allowed_domains(monkeypatch, server):
    resolve_as(
        monkeypatch,
        {
            "example.test": ["127.0.0.1"],
            "api.example.test": ["127.0.0.1"],
            "badexample.test": ["127.0.0.1"],
            "other.test": ["127.0.0.1"],
        },
    )
    allowed = {"allowed_domains": ["example.test"]}
    port = server.port
    assert call(url=f"http://example.test:{port}/json", **allowed).data["status"] == 200
    assert call(url=f"http://api.example.test:{port}/json", **allowed).data["status"] == 200
    before = len(server.seen)
    for host in ("badexample.test", "other.test", "127.0.0.1"):
        refused = call(url=f"http://{host}:{port}/json", **allowed)
        assert refused.is_error
        assert f"'{host}': it is not in this workspace's allowed domains (example.test)" in (
            refused.content
        )
    # A redirect leaving the allowed domains is refused too, before it is followed.
    redirected = call(
        url=f"http://api.example.test:{port}/redirect",
        params={"to": f"http://other.test:{port}/json"},
        **allowed,
    )
    assert redirected.is_error and "'other.test'" in redirected.content
    assert len(server.seen) == before + 1  # only the redirect itself was fetched
    # An empty list allows nothing; no list allows every public host.
    assert call(url=f"http://example.test:{port}/json", allowed_domains=[]).is_error
    assert not call(url=f"http://other.test:{port}/json").is_error


def test_allowed_domains_do_not_open_internal_addresses(monkeypatch):
    resolve_as(monkeypatch, {"intranet.example.test": ["10.0.0.7"]})
    result = call(url="http://intranet.example.test/", allowed_domains=["example.test"])
    assert result.is_error and "private address" in result.content


def test_allowed_domains_match_international_names(monkeypatch, server):
    looked_up = resolve_as(monkeypatch, {"xn--bcher-kva.example": ["127.0.0.1"]})
    result = call(
        url=f"http://Bücher.example:{server.port}/json", allowed_domains=["bücher.example"]
    )
    assert not result.is_error, result.content
    assert looked_up[0] == "xn--bcher-kva.example"  # resolved in its ASCII form
