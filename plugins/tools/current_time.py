"""Tells an agent what time it is, anywhere: models do not know the date.

Time zones come from ``zoneinfo``: the system's tz database, or the ``tzdata`` package
(a dependency) where the system has none, as in slim containers.
"""

from __future__ import annotations

import difflib
import re
import zoneinfo
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import cache

from pydantic import BaseModel, Field

from plugins.base import PluginSettings, Tool, ToolContext, ToolResult

_OFFSET = re.compile(r"^(?:UTC|GMT)?\s*([+-])(\d{1,2})(?::?(\d{2}))?$", re.IGNORECASE)
_EXAMPLES = "'Asia/Shanghai', 'Europe/London', 'America/New_York' or 'UTC'"


class CurrentTimeArguments(BaseModel):
    timezone: str = Field(
        "UTC",
        min_length=1,
        max_length=64,
        description=f"An IANA time zone name such as {_EXAMPLES} (or a fixed offset such as "
        "'UTC+8'). Defaults to UTC.",
    )


class CurrentTime(Tool):
    display_name = "Current time"
    description = (
        "Returns the current date and time (ISO 8601), the weekday and the UTC offset in a "
        "time zone given by its IANA name, e.g. Asia/Shanghai; UTC by default."
    )
    Arguments = CurrentTimeArguments
    Settings = PluginSettings
    timeout_seconds = 2.0
    enabled_by_default = True

    def invoke(self, arguments: CurrentTimeArguments, context: ToolContext) -> ToolResult:
        """The current time in ``arguments.timezone``; an unknown zone is an error result
        suggesting close names."""
        name = _canonical_name(arguments.timezone.strip())
        zone: tzinfo | None = _zone(name)
        if zone is None and (fixed := _fixed_offset(name)) is not None:
            zone, name = fixed, _format_offset(fixed.utcoffset(None))
        if zone is None:
            return ToolResult(content=_unknown_zone_message(arguments.timezone), is_error=True)
        now = datetime.now(UTC).astimezone(zone)
        offset = _format_offset(now.utcoffset() or timedelta(0))
        weekday = now.strftime("%A")
        iso = now.isoformat(timespec="seconds")
        return ToolResult(
            content=f"{iso} ({weekday}) in {name}, {offset}"
            if name != offset
            else f"{iso} ({weekday}), {offset}",
            data={
                "timezone": name,
                "iso": iso,
                "date": now.date().isoformat(),
                "time": now.strftime("%H:%M:%S"),
                "weekday": weekday,
                "utc_offset": offset,
                "abbreviation": now.tzname(),
                "unix": int(now.timestamp()),
            },
        )


@cache
def _available() -> dict[str, str]:
    """Every zone name known here, by its lower-case form."""
    return {name.lower(): name for name in zoneinfo.available_timezones()}


def _canonical_name(name: str) -> str:
    # "asia/shanghai" and "utc" are what people and models type; accept them.
    if name.upper() in ("UTC", "Z", "GMT"):
        return "UTC"
    return _available().get(name.lower(), name)


def _fixed_offset(name: str) -> timezone | None:
    # "UTC+8", "GMT-05:30", "+08:00": models often answer with an offset, not a zone name.
    match = _OFFSET.match(name)
    if not match:
        return None
    sign, hours, minutes = match.group(1), int(match.group(2)), int(match.group(3) or 0)
    if hours > 14 or minutes >= 60:
        return None
    offset = timedelta(hours=hours, minutes=minutes) * (-1 if sign == "-" else 1)
    return timezone(offset)


def _zone(name: str) -> zoneinfo.ZoneInfo | None:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # ValueError: not a valid key ("../etc"); OSError: a directory ("America").
        return None


def _format_offset(offset: timedelta) -> str:
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def _unknown_zone_message(name: str) -> str:
    close = difflib.get_close_matches(name.lower(), _available(), n=3, cutoff=0.6)
    # A bare city ("Shanghai") is the usual mistake: look for it as the last part of a name.
    city = name.strip().lower().replace(" ", "_")
    close += [key for key in _available() if key.rsplit("/", 1)[-1] == city and key not in close]
    hint = f" Did you mean {', '.join(repr(_available()[key]) for key in close[:3])}?"
    return (
        f"Unknown time zone '{name}'."
        + (hint if close else "")
        + f" Use an IANA name (Area/City) such as {_EXAMPLES}, or an offset such as 'UTC+8'."
    )
