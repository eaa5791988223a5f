"""The plugin catalogue, a workspace's choices and settings, and test-running tools."""

import logging

import pytest

from apps.plugins.models import Plugin, WorkspacePlugin
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db

SECRET = "wx-live-5b1f9c2e"


def configure_weather(console: ConsoleClient, **settings):
    return console.patch(
        "/plugins/tool/weather", {"enabled": True, "settings": {"api_key": SECRET, **settings}}
    )


def test_the_catalogue_shows_status_schema_and_this_workspaces_choice(synced, vera):
    plugins = ConsoleClient().as_user(vera, "acme").get("/plugins").json()
    by_id = {(p["kind"], p["id"]): p for p in plugins}
    calculator = by_id[("tool", "calculator")]
    assert (calculator["status"], calculator["available"], calculator["enabled"]) == (
        "loaded",
        True,
        True,
    )
    assert calculator["manifest"]["parameters"]["properties"]["expression"]["type"] == "string"
    only_loaders = ConsoleClient().as_user(vera, "acme").get("/plugins?kind=loader").json()
    assert {p["kind"] for p in only_loaders} == {"loader"}


def test_settings_fields_come_in_the_order_the_plugin_declares(synced, vera):
    # The stored copy is jsonb, which reorders keys; forms must follow the declaration.
    declared = ["timeout_seconds", "max_response_bytes", "allowed_domains"]
    stored = Plugin.objects.get(kind="tool", plugin_id="http_request").settings_schema
    assert list(stored["properties"]) != declared
    answer = ConsoleClient().as_user(vera, "acme").get("/plugins/tool/http_request").json()
    assert list(answer["settings_schema"]["properties"]) == declared


def test_an_unknown_plugin_is_a_404(synced, alice):
    response = ConsoleClient().as_user(alice, "acme").get("/plugins/tool/nope")
    assert response.status_code == 404
    assert ConsoleClient().as_user(alice, "acme").get("/plugins/gadget/x").status_code == 400


def test_admin_enables_and_configures_with_the_secret_masked(weather, alice, caplog):
    console = ConsoleClient().as_user(alice, "acme")
    with caplog.at_level(logging.DEBUG):
        response = configure_weather(console, units="imperial")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["enabled"] is True
    assert body["settings"] == {"api_key": "***", "units": "imperial"}
    assert SECRET not in response.content.decode()
    assert SECRET not in console.get("/plugins").content.decode()
    assert SECRET not in caplog.text

    row = WorkspacePlugin.objects.get(plugin__plugin_id="weather")
    assert row.settings == {"units": "imperial"}
    assert row.encrypted_secrets and SECRET not in row.encrypted_secrets

    invoked = console.post("/tools/weather/invoke", {"arguments": {"city": "Oslo"}}).json()
    assert invoked["data"] == {"units": "imperial", "key_length": len(SECRET)}


def test_sending_the_mask_back_keeps_the_stored_secret(weather, alice):
    console = ConsoleClient().as_user(alice, "acme")
    configure_weather(console)
    kept = console.patch(
        "/plugins/tool/weather", {"settings": {"api_key": "***", "units": "metric"}}
    )
    assert kept.status_code == 200
    data = console.post("/tools/weather/invoke", {"arguments": {"city": "Rome"}}).json()["data"]
    assert data["key_length"] == len(SECRET)

    replaced = console.patch("/plugins/tool/weather", {"settings": {"api_key": "short"}})
    assert replaced.status_code == 200
    data = console.post("/tools/weather/invoke", {"arguments": {"city": "Rome"}}).json()["data"]
    assert data["key_length"] == len("short")


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({}, "settings.api_key"),
        ({"api_key": "k", "units": "kelvin"}, "settings.units"),
        ({"api_key": "k", "colour": "blue"}, "settings.colour"),
        ({"api_key": "***"}, "settings.api_key"),  # nothing stored to keep yet
    ],
)
def test_bad_settings_are_a_400_naming_the_field(weather, alice, settings, named):
    console = ConsoleClient().as_user(alice, "acme")
    response = console.patch("/plugins/tool/weather", {"settings": settings})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert named in response.json()["message"]
    assert not WorkspacePlugin.objects.filter(encrypted_secrets__gt="").exists()


def test_a_failed_plugin_cannot_be_enabled_but_can_be_disabled(distribution, alice, db):
    from apps.plugins.services import sync_plugins

    (
        distribution("ministudio-broken")
        .module("ms_broken_api", "raise RuntimeError('boom')\n")
        .entry_point("tool", "broken", "ms_broken_api:X")
        .install()
    )
    sync_plugins()
    console = ConsoleClient().as_user(alice, "acme")
    response = console.patch("/plugins/tool/broken", {"enabled": True})
    assert response.status_code == 409
    assert response.json()["code"] == "PluginUnavailable"
    assert console.patch("/plugins/tool/broken", {"enabled": False}).status_code == 200


@pytest.mark.parametrize("who", ["charlie", "vera", "api_key"])
def test_only_workspace_admins_configure_plugins(weather, who, charlie, vera, acme):
    from apps.accounts.services import create_api_key

    callers = {
        "charlie": lambda: ConsoleClient().as_user(charlie, "acme"),
        "vera": lambda: ConsoleClient().as_user(vera, "acme"),
        "api_key": lambda: ConsoleClient().with_key(
            create_api_key(acme, name="k", created_by=charlie).plaintext
        ),
    }
    response = callers[who]().patch("/plugins/tool/weather", {"enabled": True})
    assert response.status_code == 403
    assert not WorkspacePlugin.objects.exists()


def test_a_tool_enabled_nowhere_is_invisible(weather, alice):
    console = ConsoleClient().as_user(alice, "acme")
    assert "weather" not in [t["id"] for t in console.get("/tools").json()]
    response = console.post("/tools/weather/invoke", {"arguments": {"city": "Oslo"}})
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"


def test_the_tools_list_is_what_apps_may_use(weather, alice):
    console = ConsoleClient().as_user(alice, "acme")
    configure_weather(console)
    console.patch("/plugins/tool/calculator", {"enabled": False})
    tools = {t["id"]: t for t in console.get("/tools").json()}
    # The other built-ins that are on by default (current_time, ...) stay listed.
    on_by_default = set(
        Plugin.objects.filter(kind="tool", distribution="ministudio", enabled_by_default=True)
        .exclude(plugin_id="calculator")
        .values_list("plugin_id", flat=True)
    )
    assert "current_time" in on_by_default and "http_request" not in on_by_default
    assert set(tools) == {"weather", *on_by_default}
    assert tools["weather"]["parameters"]["required"] == ["city"]
    assert tools["weather"]["timeout_seconds"] == 0.5
    response = console.post("/tools/calculator/invoke", {"arguments": {"expression": "1"}})
    assert response.status_code == 404


def test_the_calculator_answers(synced, charlie):
    response = (
        ConsoleClient()
        .as_user(charlie, "acme")
        .post("/tools/calculator/invoke", {"arguments": {"expression": "(3 + 4) * 2 ^ 3"}})
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["tool"], body["is_error"], body["content"], body["data"]) == (
        "calculator",
        False,
        "56",
        {"value": 56},
    )
    assert body["duration_ms"] >= 0


@pytest.mark.parametrize(
    ("arguments", "named"),
    [({}, "arguments.expression"), ({"expression": ""}, "arguments.expression")],
)
def test_bad_tool_arguments_are_a_400_naming_the_field(synced, charlie, arguments, named):
    response = (
        ConsoleClient()
        .as_user(charlie, "acme")
        .post("/tools/calculator/invoke", {"arguments": arguments})
    )
    assert response.status_code == 400
    assert named in response.json()["message"]


def test_a_refused_calculation_is_an_error_result(synced, charlie):
    response = (
        ConsoleClient()
        .as_user(charlie, "acme")
        .post("/tools/calculator/invoke", {"arguments": {"expression": "__import__('os')"}})
    )
    assert response.status_code == 200
    assert response.json()["is_error"] is True
    assert "not allowed" in response.json()["content"]


def test_a_tool_exception_is_an_error_result_with_secrets_scrubbed(weather, alice, caplog):
    console = ConsoleClient().as_user(alice, "acme")
    configure_weather(console)
    with caplog.at_level(logging.WARNING):
        response = console.post("/tools/weather/invoke", {"arguments": {"city": "fail"}})
    assert response.status_code == 200
    body = response.json()
    assert body["is_error"] is True
    assert "RuntimeError: upstream refused key ***" in body["content"]
    assert SECRET not in response.content.decode()
    assert SECRET not in caplog.text
    assert "upstream refused key ***" in caplog.text


def test_a_tool_time_out_is_an_error_result(weather, alice):
    console = ConsoleClient().as_user(alice, "acme")
    configure_weather(console)
    response = console.post("/tools/weather/invoke", {"arguments": {"city": "slow"}})
    assert response.status_code == 200
    body = response.json()
    assert body["is_error"] is True
    assert "timed out after 0.5s" in body["content"]
    assert 400 <= body["duration_ms"] < 2000


def test_viewers_cannot_test_run_tools(synced, vera):
    response = (
        ConsoleClient()
        .as_user(vera, "acme")
        .post("/tools/calculator/invoke", {"arguments": {"expression": "1"}})
    )
    assert response.status_code == 403


def test_one_workspaces_choices_and_secrets_stay_there(weather, alice, bob):
    globex = ConsoleClient().as_user(bob, "globex")
    assert configure_weather(globex).status_code == 200

    acme = ConsoleClient().as_user(alice, "acme")
    shown = acme.get("/plugins/tool/weather").json()
    assert (shown["enabled"], shown["settings"]) == (False, {})
    assert acme.post("/tools/weather/invoke", {"arguments": {"city": "x"}}).status_code == 404
    assert "weather" not in [t["id"] for t in acme.get("/tools").json()]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/plugins", None),
        ("GET", "/plugins/tool/weather", None),
        ("PATCH", "/plugins/tool/weather", {"enabled": False}),
        ("GET", "/tools", None),
        ("POST", "/tools/weather/invoke", {"arguments": {"city": "Oslo"}}),
    ],
)
def test_another_workspace_answers_404_on_every_plugin_endpoint(
    weather, alice, bob, method, path, body
):
    configure_weather(ConsoleClient().as_user(alice, "acme"))
    before = list(
        WorkspacePlugin.objects.values("workspace_id", "enabled", "settings", "encrypted_secrets")
    )
    response = ConsoleClient().as_user(bob, "acme").request(method, path, body)
    assert response.status_code == 404
    assert response.json()["code"] == "NotFound"
    assert (
        list(
            WorkspacePlugin.objects.values(
                "workspace_id", "enabled", "settings", "encrypted_secrets"
            )
        )
        == before
    )


def test_enabling_needs_the_required_settings(weather, alice):
    console = ConsoleClient().as_user(alice, "acme")
    response = console.patch("/plugins/tool/weather", {"enabled": True})
    assert response.status_code == 400
    assert "settings.api_key" in response.json()["message"]
    assert not WorkspacePlugin.objects.filter(enabled=True).exists()


def test_an_unreadable_secret_is_a_clear_error_not_a_500(weather, alice, settings):
    console = ConsoleClient().as_user(alice, "acme")
    configure_weather(console)
    settings.ENCRYPTION_KEYS = ["a key that did not write it"]
    listed = console.get("/plugins/tool/weather")
    assert listed.status_code == 200
    assert listed.json()["settings"]["api_key"] == "***"
    invoked = console.post("/tools/weather/invoke", {"arguments": {"city": "Oslo"}})
    assert invoked.status_code == 409
    assert invoked.json()["code"] == "SecretUnreadable"


def test_a_timed_out_call_does_not_hold_up_the_next(weather, alice):
    console = ConsoleClient().as_user(alice, "acme")
    configure_weather(console)
    for _ in range(3):
        slow = console.post("/tools/weather/invoke", {"arguments": {"city": "slow"}}).json()
        assert slow["is_error"] is True
    fast = console.post("/tools/weather/invoke", {"arguments": {"city": "Oslo"}}).json()
    assert fast["is_error"] is False
    assert fast["duration_ms"] < 400
