"""The registry mirrors what is installed; workspace choices survive uninstalls."""

import pytest

from apps.plugins.models import Plugin, PluginStatus, WorkspacePlugin
from apps.plugins.services import PluginsFailed, sync_plugins
from tests.console import ConsoleClient

pytestmark = pytest.mark.django_db


def test_sync_records_installed_plugins_with_schema_and_manifest(synced):
    calculator = Plugin.objects.get(kind="tool", plugin_id="calculator")
    assert calculator.status == PluginStatus.LOADED
    assert (calculator.distribution, calculator.version) == ("ministudio", "0.1.0")
    assert calculator.manifest["parameters"]["required"] == ["expression"]
    assert calculator.enabled_by_default is True
    text = Plugin.objects.get(kind="loader", plugin_id="text")
    assert ".txt" in text.manifest["file_extensions"]


def test_sync_is_idempotent(synced):
    before = Plugin.objects.count()
    sync_plugins()
    assert Plugin.objects.count() == before


def test_an_uninstalled_plugin_is_missing_and_workspaces_keep_their_choice(weather, alice):
    console = ConsoleClient().as_user(alice, "acme")
    enabled = console.patch(
        "/plugins/tool/weather", {"enabled": True, "settings": {"api_key": "k-123"}}
    )
    assert enabled.status_code == 200, enabled.content

    weather.uninstall()
    result = sync_plugins()
    assert result.missing == ["tool/weather"]
    plugin = Plugin.objects.get(plugin_id="weather")
    assert plugin.status == PluginStatus.MISSING
    assert WorkspacePlugin.objects.get(plugin=plugin).enabled is True

    shown = console.get("/plugins/tool/weather").json()
    assert (shown["status"], shown["available"], shown["enabled"]) == ("missing", False, True)
    assert "weather" not in [t["id"] for t in console.get("/tools").json()]
    invoked = console.post("/tools/weather/invoke", {"arguments": {"city": "Oslo"}})
    assert invoked.status_code == 409
    assert invoked.json()["code"] == "PluginUnavailable"
    # everything else keeps working
    assert (
        console.post("/tools/calculator/invoke", {"arguments": {"expression": "1+1"}}).json()[
            "content"
        ]
        == "2"
    )

    weather.install()
    sync_plugins()
    assert Plugin.objects.get(plugin_id="weather").status == PluginStatus.LOADED
    back = console.post("/tools/weather/invoke", {"arguments": {"city": "Oslo"}})
    assert back.json()["content"] == "Sunny in Oslo"


def test_strict_sync_writes_the_registry_then_fails(distribution, db):
    (
        distribution("ministudio-broken")
        .module("ms_broken_sync", "raise RuntimeError('boom')\n")
        .entry_point("loader", "broken", "ms_broken_sync:X")
        .install()
    )
    with pytest.raises(PluginsFailed, match="loader/broken"):
        sync_plugins(strict=True)
    broken = Plugin.objects.get(plugin_id="broken")
    assert broken.status == PluginStatus.FAILED
    assert "boom" in broken.error
