"""current_time answers the real time in a real zone, and says how to fix a wrong name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from plugins.base import PluginSettings, ToolContext
from plugins.tools.current_time import CurrentTime, CurrentTimeArguments


def now_in(timezone=None):
    arguments = (
        CurrentTimeArguments() if timezone is None else CurrentTimeArguments(timezone=timezone)
    )
    return CurrentTime().invoke(arguments, ToolContext(settings=PluginSettings()))


def test_it_satisfies_the_contract():
    CurrentTime.check_contract()
    schema = CurrentTime.parameters_schema()
    assert schema["properties"]["timezone"]["default"] == "UTC"
    assert "required" not in schema
    assert CurrentTime.enabled_by_default is True


def test_utc_by_default():
    before = datetime.now(UTC).replace(microsecond=0)
    result = now_in()
    after = datetime.now(UTC)
    assert not result.is_error
    moment = datetime.fromisoformat(result.data["iso"])
    assert before <= moment <= after
    assert moment.utcoffset() == timedelta(0)
    assert result.data["timezone"] == "UTC"
    assert result.data["utc_offset"] == "UTC+00:00"
    assert result.data["weekday"] == moment.strftime("%A")
    assert result.content == f"{result.data['iso']} ({result.data['weekday']}) in UTC, UTC+00:00"
    assert abs(result.data["unix"] - moment.timestamp()) < 1


@pytest.mark.parametrize(
    ("name", "offset"),
    [
        ("Asia/Shanghai", "UTC+08:00"),
        ("Asia/Kolkata", "UTC+05:30"),
        ("Asia/Kathmandu", "UTC+05:45"),
        ("America/St_Johns", None),  # -03:30 or -02:30, by season
        ("Europe/London", None),
    ],
)
def test_named_zones(name, offset):
    result = now_in(name)
    assert not result.is_error
    moment = datetime.fromisoformat(result.data["iso"])
    expected = datetime.now(ZoneInfo(name)).utcoffset()
    assert moment.utcoffset() == expected
    if offset:
        assert result.data["utc_offset"] == offset
    assert result.data["timezone"] == name
    assert result.data["weekday"] == moment.strftime("%A")
    assert result.data["date"] == moment.date().isoformat()
    # The same instant as UTC now, whatever the zone.
    assert abs(moment - datetime.now(UTC)) < timedelta(seconds=5)


def test_names_are_case_insensitive():
    result = now_in("asia/SHANGHAI")
    assert result.data["timezone"] == "Asia/Shanghai"
    assert result.data["utc_offset"] == "UTC+08:00"
    assert now_in(" utc ").data["timezone"] == "UTC"


@pytest.mark.parametrize(
    ("written", "offset"),
    [
        ("UTC+8", "UTC+08:00"),
        ("GMT-05:30", "UTC-05:30"),
        ("+09:00", "UTC+09:00"),
        ("utc-3", "UTC-03:00"),
    ],
)
def test_fixed_offsets(written, offset):
    result = now_in(written)
    assert not result.is_error
    assert result.data["utc_offset"] == offset
    assert result.data["timezone"] == offset
    assert result.content.endswith(f", {offset}")


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("Shanghai", "Did you mean 'Asia/Shanghai'"),
        ("America/Nwe_York", "'America/New_York'"),
        ("Europe/Lodnon", "'Europe/London'"),
        ("Mars/Olympus_Mons", None),
        ("America", None),  # a directory of the database, not a zone
        ("../../etc/passwd", None),
        ("/etc/localtime", None),
        ("UTC+15", None),
    ],
)
def test_unknown_zones_are_error_results_with_a_hint(name, suggestion):
    result = now_in(name)
    assert result.is_error
    assert result.content.startswith(f"Unknown time zone '{name}'.")
    assert "Use an IANA name (Area/City) such as 'Asia/Shanghai'" in result.content
    if suggestion:
        assert suggestion in result.content


def test_malformed_arguments_fail_validation():
    with pytest.raises(ValidationError, match="timezone"):
        CurrentTimeArguments(timezone="")
    with pytest.raises(ValidationError, match="timezone"):
        CurrentTimeArguments(timezone="A" * 65)


def test_works_without_a_system_time_zone_database(tmp_path):
    # An empty PYTHONTZPATH is a system with no tz database (a slim container): the zones
    # then come from the tzdata package.
    script = (
        "import json, zoneinfo\n"
        "from plugins.base import PluginSettings, ToolContext\n"
        "from plugins.tools.current_time import CurrentTime, CurrentTimeArguments\n"
        "result = CurrentTime().invoke(CurrentTimeArguments(timezone='Asia/Tokyo'),"
        " ToolContext(settings=PluginSettings()))\n"
        "print(json.dumps({'tzpath': zoneinfo.TZPATH, 'data': result.data,"
        " 'error': result.is_error}))\n"
    )
    environment = {**os.environ, "PYTHONTZPATH": ""}
    completed = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=60,
        check=True,
    )
    answer = json.loads(completed.stdout)
    assert answer["tzpath"] == []
    assert answer["error"] is False
    assert answer["data"]["utc_offset"] == "UTC+09:00"
