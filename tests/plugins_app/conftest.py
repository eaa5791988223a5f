import pytest

from apps.plugins import discovery
from apps.plugins.services import sync_plugins
from tests.plugins_app.distributions import WEATHER_SOURCE, PluginDistribution


@pytest.fixture
def distribution(tmp_path):
    """Make and install test distributions; all are uninstalled after the test."""
    made: list[PluginDistribution] = []

    def make(name: str, version: str = "1.0.0") -> PluginDistribution:
        dist = PluginDistribution(tmp_path / f"site-{len(made)}", name, version)
        made.append(dist)
        return dist

    yield make
    for dist in made:
        dist.uninstall()
    discovery.refresh()


@pytest.fixture
def weather(distribution, db) -> PluginDistribution:
    """A third-party tool with a secret setting, installed and synced."""
    dist = (
        distribution("ministudio-weather", "2.1.0")
        .module("ms_weather_plugin", WEATHER_SOURCE)
        .entry_point("tool", "weather", "ms_weather_plugin:Weather")
        .install()
    )
    sync_plugins()
    return dist


@pytest.fixture
def synced(db):
    sync_plugins()
