"""Reads of the registry: which plugins a workspace sees, and in what state."""

from dataclasses import dataclass

from apps.accounts.models import Workspace
from apps.plugins.models import Kind, Plugin, WorkspacePlugin


@dataclass(frozen=True)
class PluginInWorkspace:
    plugin: Plugin
    choice: WorkspacePlugin | None

    @property
    def enabled(self) -> bool:
        return self.choice.enabled if self.choice else self.plugin.enabled_by_default

    @property
    def usable(self) -> bool:
        return self.enabled and self.plugin.available


def plugins_in_workspace(workspace: Workspace, kind: str | None = None) -> list[PluginInWorkspace]:
    """Every plugin the registry knows, with this workspace's choice about it."""
    plugins = Plugin.objects.all()
    if kind:
        plugins = plugins.filter(kind=kind)
    choices = {
        choice.plugin_id: choice
        for choice in WorkspacePlugin.objects.in_workspace(workspace).filter(plugin__in=plugins)
    }
    return [PluginInWorkspace(plugin, choices.get(plugin.pk)) for plugin in plugins]


def plugin_in_workspace(
    workspace: Workspace, kind: str, plugin_id: str
) -> PluginInWorkspace | None:
    plugin = Plugin.objects.filter(kind=kind, plugin_id=plugin_id).first()
    if plugin is None:
        return None
    choice = WorkspacePlugin.objects.in_workspace(workspace).filter(plugin=plugin).first()
    return PluginInWorkspace(plugin, choice)


def usable_tools(workspace: Workspace) -> list[PluginInWorkspace]:
    """The tools an app of this workspace may use: enabled here and installed."""
    return [p for p in plugins_in_workspace(workspace, Kind.TOOL) if p.usable]


def usable_loaders(workspace: Workspace) -> list[PluginInWorkspace]:
    """The loaders this workspace's knowledge bases may parse files with."""
    return [p for p in plugins_in_workspace(workspace, Kind.LOADER) if p.usable]
