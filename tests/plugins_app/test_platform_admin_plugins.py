"""Plugins that reach beyond a workspace (``requires_platform_admin``, e.g. the diagnostics
shell, which lists every process on the host) are switched on by platform admins only.
Workspace admins may still switch them off, and what was enabled before keeps working."""

import pytest

from apps.accounts.models import Workspace
from apps.plugins.models import Plugin, WorkspacePlugin
from tests.console import ConsoleClient
from tests.plugins_app.distributions import WEATHER_SOURCE

pytestmark = pytest.mark.django_db

SHELL = "/plugins/tool/diagnostics_shell"


def shell_choice(workspace: str = "acme") -> WorkspacePlugin | None:
    return WorkspacePlugin.objects.filter(
        workspace__slug=workspace, plugin__plugin_id="diagnostics_shell"
    ).first()


def test_the_catalogue_says_which_plugins_need_a_platform_admin(synced, vera):
    plugins = ConsoleClient().as_user(vera, "acme").get("/plugins?kind=tool").json()
    needs = {p["id"]: p["requires_platform_admin"] for p in plugins}
    assert needs["diagnostics_shell"] is True
    assert needs["calculator"] is False and needs["http_request"] is False


def test_a_workspace_admin_cannot_enable_the_shell(synced, alice):
    response = ConsoleClient().as_user(alice, "acme").patch(SHELL, {"enabled": True})
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "AccessDenied"
    assert "platform admin" in body["message"]
    assert shell_choice() is None or not shell_choice().enabled
    # Nor with settings in the same request.
    response = (
        ConsoleClient()
        .as_user(alice, "acme")
        .patch(SHELL, {"enabled": True, "settings": {"extra_disabled": ["ps"]}})
    )
    assert response.status_code == 403
    assert shell_choice() is None or not shell_choice().enabled


def test_a_platform_admin_enables_it_for_a_workspace(synced, root, alice):
    response = ConsoleClient().as_user(root, "acme").patch(SHELL, {"enabled": True})
    assert response.status_code == 200
    assert response.json()["enabled"] is True
    assert shell_choice().enabled and shell_choice().updated_by == root
    tools = ConsoleClient().as_user(alice, "acme").get("/tools").json()
    assert "diagnostics_shell" in [t["id"] for t in tools]
    # Only for that workspace.
    assert shell_choice("globex") is None


def test_a_workspace_admin_may_disable_and_configure_it_once_enabled(synced, root, alice):
    assert ConsoleClient().as_user(root, "acme").patch(SHELL, {"enabled": True}).status_code == 200
    console = ConsoleClient().as_user(alice, "acme")
    # Configuring (the console's form sends settings; a toggle sends enabled) keeps it on.
    configured = console.patch(SHELL, {"settings": {"extra_disabled": ["ss"]}})
    assert configured.status_code == 200
    assert console.patch(SHELL, {"enabled": True}).status_code == 200
    assert console.patch(SHELL, {"enabled": False}).status_code == 200
    assert not shell_choice().enabled
    # Once off, turning it back on is a platform admin's decision again.
    assert console.patch(SHELL, {"enabled": True}).status_code == 403


def test_what_was_enabled_before_keeps_working(synced, alice, acme):
    shell = Plugin.objects.get(kind="tool", plugin_id="diagnostics_shell")
    WorkspacePlugin.objects.create(workspace=acme, plugin=shell, enabled=True)
    console = ConsoleClient().as_user(alice, "acme")
    assert console.get(SHELL).json()["enabled"] is True
    assert "diagnostics_shell" in [t["id"] for t in console.get("/tools").json()]
    response = console.post("/tools/diagnostics_shell/invoke", {"arguments": {"command": "nproc"}})
    assert response.status_code == 200


def test_a_registry_synced_before_the_flag_still_refuses(synced, alice):
    """Rows written before the column existed read False until the next sync; the class
    itself still says so."""
    Plugin.objects.filter(plugin_id="diagnostics_shell").update(requires_platform_admin=False)
    response = ConsoleClient().as_user(alice, "acme").patch(SHELL, {"enabled": True})
    assert response.status_code == 403
    shown = ConsoleClient().as_user(alice, "acme").get(SHELL).json()
    assert shown["requires_platform_admin"] is True


def test_a_third_party_plugin_can_ask_for_it_too(distribution, alice, root, db):
    from apps.plugins.services import sync_plugins

    source = WEATHER_SOURCE.replace(
        "class Weather(Tool):", "class Weather(Tool):\n        requires_platform_admin = True"
    )
    assert source != WEATHER_SOURCE
    (
        distribution("ministudio-host-weather")
        .module("ms_host_weather", source)
        .entry_point("tool", "host_weather", "ms_host_weather:Weather")
        .install()
    )
    sync_plugins()
    assert Plugin.objects.get(plugin_id="host_weather").requires_platform_admin
    body = {"enabled": True, "settings": {"api_key": "k"}}
    path = "/plugins/tool/host_weather"
    assert ConsoleClient().as_user(alice, "acme").patch(path, body).status_code == 403
    assert ConsoleClient().as_user(root, "acme").patch(path, body).status_code == 200
    assert Workspace.objects.get(slug="acme").plugins.get().enabled
