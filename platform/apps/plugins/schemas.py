"""Request and response bodies of the plugin endpoints."""

from typing import Any

from ninja import Field, Schema

from apps.plugins.models import Kind, PluginStatus


class PluginOut(Schema):
    kind: Kind
    id: str
    display_name: str
    description: str
    distribution: str
    version: str
    status: PluginStatus
    error: str
    available: bool
    enabled: bool
    requires_platform_admin: bool = Field(
        description="Only a platform admin may enable it (workspace admins may disable it)."
    )
    settings_schema: dict[str, Any]
    settings: dict[str, Any] = Field(description='Secret values read "***" once set.')
    manifest: dict[str, Any]


class PluginUpdateIn(Schema):
    enabled: bool | None = None
    settings: dict[str, Any] | None = Field(
        default=None,
        description='Replaces the settings; send a secret back as "***" to keep the stored one.',
    )


class ToolOut(Schema):
    id: str
    display_name: str
    description: str
    parameters: dict[str, Any]
    timeout_seconds: float


class InvokeIn(Schema):
    arguments: dict[str, Any] = Field(default_factory=dict)


class InvokeOut(Schema):
    tool: str
    is_error: bool
    content: str
    data: Any = None
    duration_ms: int
