"""Writes of the registry: syncing installed plugins, and a workspace's choices."""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from pydantic import ValidationError as PydanticValidationError

from apps.accounts.models import User, Workspace
from apps.plugins import discovery
from apps.plugins.models import Kind, Plugin, PluginStatus, WorkspacePlugin
from apps.plugins.plugin_settings import (
    StoredSettings,
    field_errors,
    load_settings,
    masked,
    store_settings,
)
from apps.plugins.selectors import PluginInWorkspace
from kernel.errors import AccessDenied, ApiError, InvalidParameter
from plugins.base import Loader, ModelProvider, PluginSettings, Tool


class PluginsFailed(Exception):
    """Strict mode: some installed plugins could not be loaded."""


class PluginUnavailable(ApiError):
    status = 409
    code = "PluginUnavailable"


# --- sync ------------------------------------------------------------------------------------


@dataclass
class SyncResult:
    loaded: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


def _manifest(plugin_class: type) -> dict[str, Any]:
    if issubclass(plugin_class, Tool):
        return {
            "parameters": plugin_class.parameters_schema(),
            "timeout_seconds": plugin_class.timeout_seconds,
        }
    if issubclass(plugin_class, Loader):
        return {
            "file_extensions": list(plugin_class.file_extensions),
            "media_types": list(plugin_class.media_types),
        }
    if issubclass(plugin_class, ModelProvider):
        return {"capabilities": sorted(plugin_class.capabilities)}
    return {}


def sync_plugins(*, strict: bool = False) -> SyncResult:
    """Record every installed plugin; mark the ones no longer installed as missing.

    Workspace choices are never deleted: a plugin that comes back is enabled again where
    it was. With ``strict``, any failed or incompatible plugin raises ``PluginsFailed``
    after the registry is written (so the reason can be read there).
    """
    discovery.refresh()
    found = discovery.discover()
    result = SyncResult()
    with transaction.atomic():
        for item in found.values():
            Plugin.objects.update_or_create(
                kind=item.kind, plugin_id=item.plugin_id, defaults=_registry_values(item)
            )
            loaded = item.status == discovery.Status.LOADED
            (result.loaded if loaded else result.failed).append(f"{item.kind}/{item.plugin_id}")
        for plugin in Plugin.objects.exclude(status=PluginStatus.MISSING):
            if (plugin.kind, plugin.plugin_id) not in found:
                plugin.status = PluginStatus.MISSING
                plugin.error = "not installed any more"
                plugin.save(update_fields=["status", "error", "synced_at"])
                result.missing.append(str(plugin))
    if strict and result.failed:
        raise PluginsFailed("plugins failed to load: " + ", ".join(result.failed))
    return result


def _registry_values(item: discovery.Discovered) -> dict[str, Any]:
    values: dict[str, Any] = {
        "distribution": item.distribution,
        "version": item.version,
        "status": item.status.value,
        "error": item.error,
    }
    plugin_class = item.plugin_class
    if plugin_class is not None:
        values |= {
            "display_name": plugin_class.display_name,
            "description": plugin_class.description,
            "settings_schema": plugin_class.Settings.model_json_schema(),
            "manifest": _manifest(plugin_class),
            "enabled_by_default": plugin_class.enabled_by_default,
            "requires_platform_admin": bool(plugin_class.requires_platform_admin),
        }
    return values


# --- a workspace's settings -------------------------------------------------------------------


def provider_schema(provider: str) -> dict[str, Any]:
    """The settings JSON Schema of model provider ``provider`` (empty if unknown)."""
    plugin = Plugin.objects.filter(kind=Kind.MODEL, plugin_id=provider).first()
    return plugin.settings_schema if plugin else {}


def settings_schema(plugin: Plugin) -> dict[str, Any]:
    """The plugin's settings JSON Schema with its fields in the order the plugin declares
    them, as forms should show them: the stored copy (jsonb) sorts object keys, so it is
    only the answer when the class does not load in this process."""
    plugin_class = loaded_class(plugin) if plugin.available else None
    return plugin_class.Settings.model_json_schema() if plugin_class else plugin.settings_schema


def loaded_class(plugin: Plugin) -> type | None:
    """The plugin's class in this process, if it is installed and loads.

    A registry newer than this process (a `pip install` and `ministudio plugins sync` while
    it runs) makes it read the entry points again, once, so no restart is needed.
    """
    item = discovery.discover().get((plugin.kind, plugin.plugin_id))
    if item is None or (item.version, item.status.value) != (plugin.version, plugin.status):
        discovery.refresh()
        item = discovery.discover().get((plugin.kind, plugin.plugin_id))
    return item.plugin_class if item else None


@transaction.atomic
def configure_plugin(
    workspace: Workspace,
    entry: PluginInWorkspace,
    *,
    enabled: bool | None = None,
    settings: dict[str, Any] | None = None,
    by: User | None = None,
) -> WorkspacePlugin:
    """Enable, disable or (re)configure a plugin for one workspace.

    ``settings`` replaces the stored settings as a whole, except that a secret sent back
    as ``"***"`` keeps its stored value. Enabling and configuring need the plugin to be
    installed (its settings model validates the values); disabling never does.
    Switching on a plugin that requires a platform admin takes one (``by.is_staff``);
    anyone allowed to configure plugins may switch it off, or keep it on.
    """
    plugin = entry.plugin
    choice, _ = WorkspacePlugin.objects.select_for_update().get_or_create(
        workspace=workspace, plugin=plugin, defaults={"enabled": plugin.enabled_by_default}
    )
    if enabled and not choice.enabled and not (by is not None and by.is_staff):
        _refuse_unless_workspace_may_enable(plugin)
    if (settings is not None or enabled) and not plugin.available:
        raise PluginUnavailable(
            f"Plugin {plugin} is {plugin.get_status_display().lower()}; it cannot be "
            "enabled or configured until it is installed and loads."
        )
    if settings is not None:
        plugin_class = loaded_class(plugin)
        if plugin_class is None:
            raise PluginUnavailable(f"Plugin {plugin} does not load in this process.")
        stored = store_settings(plugin_class.Settings, settings, _stored(choice))
        choice.settings, choice.encrypted_secrets = stored.plain, stored.encrypted_secrets
    elif enabled:
        _require_valid_settings(choice)
    if enabled is not None:
        choice.enabled = enabled
    choice.updated_by = by
    choice.save()
    return choice


def requires_platform_admin(plugin: Plugin) -> bool:
    """From the registry, or from the class itself when the registry predates the flag."""
    if plugin.requires_platform_admin:
        return True
    plugin_class = loaded_class(plugin) if plugin.available else None
    return bool(getattr(plugin_class, "requires_platform_admin", False))


def _refuse_unless_workspace_may_enable(plugin: Plugin) -> None:
    if requires_platform_admin(plugin):
        raise AccessDenied(
            f"Only a platform admin may enable {plugin.display_name or plugin} ({plugin}): "
            "it reaches beyond this workspace. Ask a platform admin to enable it here."
        )


def _stored(choice: WorkspacePlugin) -> StoredSettings:
    return StoredSettings(choice.settings, choice.encrypted_secrets)


def _require_valid_settings(choice: WorkspacePlugin) -> None:
    """Enabling needs settings that validate (a required API key, say) to be in place."""
    plugin_class = loaded_class(choice.plugin)
    if plugin_class is None:
        raise PluginUnavailable(f"Plugin {choice.plugin} does not load in this process.")
    try:
        load_settings(plugin_class.Settings, _stored(choice))
    except PydanticValidationError as exc:
        raise InvalidParameter(
            "Configure the plugin when enabling it: " + field_errors(exc, "settings")
        ) from None


def settings_for(entry: PluginInWorkspace, plugin_class: type) -> PluginSettings:
    """The workspace's validated settings for a plugin, secrets decrypted."""
    stored = _stored(entry.choice) if entry.choice else StoredSettings({}, "")
    try:
        return load_settings(plugin_class.Settings, stored)
    except PydanticValidationError as exc:
        raise InvalidParameter(
            f"The stored settings of {entry.plugin} no longer validate ("
            + field_errors(exc, "settings")
            + "); a workspace admin must configure it again."
        ) from None


def masked_settings(entry: PluginInWorkspace) -> dict[str, Any]:
    """Settings as the API shows them: secrets replaced by ``"***"`` when set."""
    if entry.choice is None:
        return {}
    return masked(_stored(entry.choice), entry.plugin.settings_schema)
