"""Writes of the registry: syncing installed plugins, and a workspace's choices."""

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from pydantic import BaseModel, SecretStr
from pydantic import ValidationError as PydanticValidationError

from apps.accounts.models import User, Workspace
from apps.registry import discovery
from apps.registry.models import Plugin, PluginStatus, WorkspacePlugin
from apps.registry.selectors import PluginInWorkspace
from plugins.base import Loader, ModelProvider, PluginSettings, Tool, secret_fields
from studio.encryption import DecryptionFailed, decrypt_json, encrypt_json
from studio.errors import ApiError, InvalidParameter

MASK = "***"


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
        }
    return values


# --- a workspace's settings -------------------------------------------------------------------


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


def field_errors(exc: PydanticValidationError, prefix: str) -> str:
    parts = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"]) or "(root)"
        parts.append(f"{prefix}.{location}: {error['msg']}")
    return "; ".join(parts)


def _merge_secrets(
    incoming: dict[str, Any], secrets: frozenset[str], stored: dict[str, str]
) -> dict[str, Any]:
    merged = dict(incoming)
    for name in secrets:
        if merged.get(name) == MASK:
            if name not in stored:
                raise InvalidParameter(f"settings.{name}: no value is stored yet; send the secret")
            merged[name] = stored[name]
    return merged


def _split(validated: PluginSettings, secrets: frozenset[str]) -> tuple[dict, dict]:
    plain = validated.model_dump(mode="json", exclude=set(secrets))
    hidden = {}
    for name in secrets:
        value = getattr(validated, name)
        if isinstance(value, SecretStr):
            hidden[name] = value.get_secret_value()
    return plain, hidden


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
    """
    plugin = entry.plugin
    choice, _ = WorkspacePlugin.objects.select_for_update().get_or_create(
        workspace=workspace, plugin=plugin, defaults={"enabled": plugin.enabled_by_default}
    )
    if (settings is not None or enabled) and not plugin.available:
        raise PluginUnavailable(
            f"Plugin {plugin} is {plugin.get_status_display().lower()}; it cannot be "
            "enabled or configured until it is installed and loads."
        )
    if settings is not None:
        plugin_class = loaded_class(plugin)
        if plugin_class is None:
            raise PluginUnavailable(f"Plugin {plugin} does not load in this process.")
        secrets = secret_fields(plugin_class.Settings)
        merged = _merge_secrets(settings, secrets, decrypt_json(choice.encrypted_secrets))
        try:
            validated = plugin_class.Settings.model_validate(merged)
        except PydanticValidationError as exc:
            raise InvalidParameter(field_errors(exc, "settings")) from None
        plain, hidden = _split(validated, secrets)
        choice.settings = plain
        choice.encrypted_secrets = encrypt_json(hidden) if hidden else ""
    elif enabled:
        _require_valid_settings(choice)
    if enabled is not None:
        choice.enabled = enabled
    choice.updated_by = by
    choice.save()
    return choice


def _require_valid_settings(choice: WorkspacePlugin) -> None:
    """Enabling needs settings that validate (a required API key, say) to be in place."""
    plugin_class = loaded_class(choice.plugin)
    if plugin_class is None:
        raise PluginUnavailable(f"Plugin {choice.plugin} does not load in this process.")
    stored = {**choice.settings, **decrypt_json(choice.encrypted_secrets)}
    try:
        plugin_class.Settings.model_validate(stored)
    except PydanticValidationError as exc:
        raise InvalidParameter(
            "Configure the plugin when enabling it: " + field_errors(exc, "settings")
        ) from None


def settings_for(entry: PluginInWorkspace, plugin_class: type) -> PluginSettings:
    """The workspace's validated settings for a plugin, secrets decrypted."""
    stored: dict[str, Any] = {}
    if entry.choice is not None:
        stored = {**entry.choice.settings, **decrypt_json(entry.choice.encrypted_secrets)}
    try:
        return plugin_class.Settings.model_validate(stored)
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
    shown: dict[str, Any] = dict(entry.choice.settings)
    if entry.choice.encrypted_secrets:
        try:
            names = list(decrypt_json(entry.choice.encrypted_secrets))
        except DecryptionFailed:
            names = secret_names_in_schema(entry.plugin.settings_schema)
        shown.update(dict.fromkeys(names, MASK))
    return shown


def secret_names_in_schema(schema: dict[str, Any]) -> list[str]:
    """The fields a settings JSON Schema marks as secrets (pydantic writes SecretStr as
    ``writeOnly``)."""

    def write_only(field: dict[str, Any]) -> bool:
        options = [field, *field.get("anyOf", [])]
        return any(option.get("writeOnly") for option in options)

    return [name for name, field in schema.get("properties", {}).items() if write_only(field)]


def secret_values(settings: BaseModel) -> list[str]:
    """The plaintext secrets in a settings object, to scrub them from error texts."""
    return [
        value.get_secret_value()
        for value in (getattr(settings, name) for name in type(settings).model_fields)
        if isinstance(value, SecretStr) and value.get_secret_value()
    ]
