"""A plugin installed while the platform runs is usable after `ministudio plugins sync`,
with no restart: the running process notices the registry is newer than its own view."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from apps.plugins.discovery import discover
from tests.console import ConsoleClient
from tests.plugins_app.distributions import WEATHER_SOURCE

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_sync_in_another_process_is_enough(distribution, alice, synced):
    dist = (
        distribution("ministudio-weather", "2.1.0")
        .module("ms_weather_live", WEATHER_SOURCE)
        .entry_point("tool", "weather", "ms_weather_live:Weather")
        .install(refresh=False)  # this process has not looked again
    )
    assert ("tool", "weather") not in discover()

    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST'].replace('/', '%2F')}/{db['NAME']}",
        "PYTHONPATH": os.pathsep.join([str(dist.root), str(ROOT / "platform"), str(ROOT)]),
        "MINISTUDIO_PLUGINS_STRICT": "0",
    }
    sync = subprocess.run(
        [sys.executable, "-m", "studio.cli", "plugins", "sync"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert sync.returncode == 0, sync.stderr

    console = ConsoleClient().as_user(alice, "acme")
    enabled = console.patch(
        "/plugins/tool/weather", {"enabled": True, "settings": {"api_key": "k-live"}}
    )
    assert enabled.status_code == 200, enabled.content
    answer = console.post("/tools/weather/invoke", {"arguments": {"city": "Lima"}}).json()
    assert answer["content"] == "Sunny in Lima"
