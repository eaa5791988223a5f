"""Request and response bodies of the custom HTTP tool endpoints.

Shapes and types only; the rules (name pattern, URL, schema, locations) are checked in
``apps.http_tools.services`` so that every way of saving a tool obeys them.
"""

import uuid
from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema

AuthTypeIn = Literal["none", "bearer", "basic", "api_key"]
LocationIn = Literal["path", "query", "header", "body"]


class BasicSecretIn(Schema):
    username: str
    password: str


class AuthIn(Schema):
    type: AuthTypeIn | None = Field(
        default=None, description="none, bearer, basic or api_key (default: none, or unchanged)."
    )
    location: Literal["header", "query"] | None = Field(
        default=None, description="api_key only: where the key goes (default header)."
    )
    name: str | None = Field(
        default=None, description="api_key only: the header or query parameter, e.g. X-API-Key."
    )
    secret: str | BasicSecretIn | None = Field(
        default=None,
        description="The token (bearer, api_key) or {username, password} (basic). Write-only; "
        "left out on an update, the stored one is kept.",
    )


class AuthOut(Schema):
    type: str
    location: str | None
    name: str | None
    has_secret: bool


class HttpToolCreateIn(Schema):
    name: str = Field(description="The function name a model calls: ^[A-Za-z][A-Za-z0-9_-]{0,63}$")
    description: str = Field(default="", description="What the tool does, for the model.")
    method: str = Field(default="GET", description="GET, POST, PUT, PATCH or DELETE.")
    url: str = Field(description="http(s) URL; {name} placeholders in the path are arguments.")
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description='JSON Schema of the arguments: {"type": "object", "properties", "required"}.',
    )
    parameter_locations: dict[str, LocationIn] = Field(
        default_factory=dict,
        description="Argument → path, query, header or body. Default: URL placeholders go to "
        "the path, others to the query (GET, DELETE) or the JSON body (POST, PUT, PATCH).",
    )
    auth: AuthIn | None = None
    timeout_seconds: int = Field(default=10, ge=1, le=30)


class HttpToolUpdateIn(Schema):
    name: str | None = None
    description: str | None = None
    method: str | None = None
    url: str | None = None
    parameters: dict[str, Any] | None = None
    parameter_locations: dict[str, LocationIn] | None = None
    auth: AuthIn | None = None
    timeout_seconds: int | None = Field(default=None, ge=1, le=30)


class HttpToolOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    method: str
    url: str
    parameters: dict[str, Any]
    parameter_locations: dict[str, str] = Field(
        description="Where each argument goes (path, query, header, body), defaults resolved."
    )
    auth: AuthOut
    timeout_seconds: int
    source: str = Field(description="manual or openapi")
    openapi_operation_id: str
    created_at: datetime
    updated_at: datetime


class OpenApiImportIn(Schema):
    document: dict[str, Any] | str = Field(
        description="An OpenAPI 3.0 / 3.1 document: an object, or its JSON or YAML text."
    )
    server_url: str | None = Field(
        default=None, description="Base URL of the API (default: the document's servers[0])."
    )
    auth: AuthIn | None = Field(default=None, description="Applied to every imported tool.")
    operations: list[str] | None = Field(
        default=None,
        description='Import only these operations, by operationId or "METHOD /path".',
    )
    timeout_seconds: int = Field(default=10, ge=1, le=30)


class InvokeIn(Schema):
    arguments: dict[str, Any] = Field(default_factory=dict)


class InvokeOut(Schema):
    tool: str
    is_error: bool
    content: str = Field(description="What a model reads (at most about 8,000 characters).")
    data: Any = Field(default=None, description="{status, body}: the upstream answer, parsed.")
    duration_ms: int
