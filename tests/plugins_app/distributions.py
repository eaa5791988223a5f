"""Real test distributions for plugin discovery, without pip.

A distribution is a ``*.dist-info`` folder with METADATA and entry_points.txt beside its
modules, on ``sys.path``: exactly what ``importlib.metadata`` reads for an installed wheel.
Removing the folder from the path is uninstalling it.
"""

import importlib
import sys
import textwrap
from pathlib import Path

from apps.plugins import discovery

GROUPS = discovery.GROUPS


class PluginDistribution:
    def __init__(self, root: Path, name: str, version: str = "1.0.0") -> None:
        self.root = root
        self.name = name
        self.version = version
        self.entry_points: dict[str, dict[str, str]] = {}
        self.modules: list[str] = []

    def module(self, name: str, source: str) -> "PluginDistribution":
        path = self.root / (name.replace(".", "/") + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source))
        self.modules.append(name)
        return self

    def entry_point(self, kind: str, plugin_id: str, target: str) -> "PluginDistribution":
        self.entry_points.setdefault(GROUPS[kind], {})[plugin_id] = target
        return self

    def install(self, *, refresh: bool = True) -> "PluginDistribution":
        """Lay the distribution out on ``sys.path``; ``refresh=False`` leaves this process's
        discovery cache stale, as if another process had installed it."""
        info = self.root / f"{self.name.replace('-', '_')}-{self.version}.dist-info"
        info.mkdir(parents=True, exist_ok=True)
        (info / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: {self.name}\nVersion: {self.version}\n"
        )
        lines = []
        for group, points in self.entry_points.items():
            lines.append(f"[{group}]")
            lines += [f"{plugin_id} = {target}" for plugin_id, target in points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        if refresh:
            discovery.refresh()
        return self

    def uninstall(self) -> None:
        if str(self.root) in sys.path:
            sys.path.remove(str(self.root))
        for name in self.modules:
            sys.modules.pop(name, None)
            sys.modules.pop(name.split(".")[0], None)
        importlib.invalidate_caches()
        discovery.refresh()


WEATHER_SOURCE = """
    import time

    from pydantic import BaseModel, Field, SecretStr

    from plugins.base import PluginSettings, Tool, ToolResult


    class WeatherSettings(PluginSettings):
        api_key: SecretStr
        units: str = Field("metric", pattern="^(metric|imperial)$")


    class WeatherArguments(BaseModel):
        city: str = Field(min_length=1)


    class Weather(Tool):
        display_name = "Weather"
        description = "Today's weather for a city."
        Settings = WeatherSettings
        Arguments = WeatherArguments
        timeout_seconds = 0.5

        def invoke(self, arguments, context):
            key = context.settings.api_key.get_secret_value()
            if arguments.city == "fail":
                raise RuntimeError(f"upstream refused key {key}")
            if arguments.city == "slow":
                time.sleep(2)
            return ToolResult(
                content=f"Sunny in {arguments.city}",
                data={"units": context.settings.units, "key_length": len(key)},
            )
"""
