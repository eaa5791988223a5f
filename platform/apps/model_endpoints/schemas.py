"""Request and response bodies of the model-endpoint endpoints."""

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from ninja import Field, Schema

from apps.model_endpoints.models import MAX_RESPONSE_CACHE_SECONDS, EndpointCapability


class EndpointOut(Schema):
    id: uuid.UUID
    name: str
    display_name: str
    provider: str
    upstream_model: str
    capabilities: list[EndpointCapability]
    settings: dict[str, Any] = Field(description='Provider settings; secrets read "***".')
    context_window: int | None
    embedding_dimension: int | None
    default_parameters: dict[str, Any]
    price_input_per_1k: Decimal
    price_output_per_1k: Decimal
    enabled: bool
    workspaces: list[str] = Field(description="Slugs of the workspaces it is granted to.")
    created_at: datetime
    updated_at: datetime


class EndpointCreateIn(Schema):
    name: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$")
    display_name: str = Field(default="", max_length=200)
    provider: str = Field(min_length=1, max_length=100)
    upstream_model: str = Field(min_length=1, max_length=200)
    capabilities: list[EndpointCapability] = Field(min_length=1)
    settings: dict[str, Any] = Field(default_factory=dict)
    context_window: int | None = Field(default=None, gt=0)
    embedding_dimension: int | None = Field(default=None, gt=0, le=16000)
    default_parameters: dict[str, Any] = Field(default_factory=dict)
    price_input_per_1k: Decimal = Field(default=Decimal(0), ge=0, max_digits=12, decimal_places=6)
    price_output_per_1k: Decimal = Field(default=Decimal(0), ge=0, max_digits=12, decimal_places=6)
    enabled: bool = True


class EndpointUpdateIn(Schema):
    display_name: str | None = Field(default=None, max_length=200)
    upstream_model: str | None = Field(default=None, min_length=1, max_length=200)
    capabilities: list[EndpointCapability] | None = Field(default=None, min_length=1)
    settings: dict[str, Any] | None = None
    context_window: int | None = Field(default=None, gt=0)
    embedding_dimension: int | None = Field(default=None, gt=0, le=16000)
    default_parameters: dict[str, Any] | None = None
    price_input_per_1k: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=6)
    price_output_per_1k: Decimal | None = Field(default=None, ge=0, max_digits=12, decimal_places=6)
    enabled: bool | None = None


class ConnectionTestOut(Schema):
    ok: bool
    latency_ms: int
    capability: str
    detail: str


class GrantIn(Schema):
    workspace: str = Field(min_length=1, max_length=50, description="The workspace's slug.")


class WorkspaceModelOut(Schema):
    """A model as a workspace sees it: no provider, no settings."""

    name: str
    kind: Literal["endpoint", "group"] = Field(
        default="endpoint",
        description="An endpoint, or a model group (several endpoints behind the name).",
    )
    display_name: str
    capabilities: list[EndpointCapability]
    is_default: bool = Field(description="The workspace's default for its capability.")
    context_window: int | None
    embedding_dimension: int | None
    default_parameters: dict[str, Any]
    price_input_per_1k: Decimal
    price_output_per_1k: Decimal
    response_cache_seconds: int = Field(
        description="How long identical deterministic chat requests (temperature 0 or a seed) "
        "are answered from the response cache; 0: off."
    )


class WorkspaceModelUpdateIn(Schema):
    """A workspace's own settings of a model granted to it."""

    response_cache_seconds: int = Field(
        ge=0,
        le=MAX_RESPONSE_CACHE_SECONDS,
        description="Seconds a deterministic answer is kept (at most a week); 0 turns it off.",
    )
