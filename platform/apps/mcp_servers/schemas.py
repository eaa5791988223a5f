"""Request and response bodies of the MCP server endpoints.

Shapes and types only; the rules are checked in ``apps.mcp_servers.checks`` so that every
way of saving a server obeys them.
"""

import uuid
from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema

TransportIn = Literal["streamable_http", "sse", "stdio"]


class McpServerCreateIn(Schema):
    name: str = Field(description="Letters, digits, '_' or '-'; prefixes its tools' names.")
    transport: TransportIn
    url: str | None = Field(default=None, description="For streamable_http and sse.")
    command: str | None = Field(
        default=None, description="For stdio: a name from GET /mcp-servers/stdio-commands."
    )
    headers: dict[str, str] | None = Field(
        default=None, description="Sent on every request; write-only, shown as ***."
    )
    bearer_token: str | None = Field(
        default=None, description="Sent as Authorization: Bearer; write-only."
    )
    timeout_seconds: int = Field(default=30, description="1 to 120: each call's time limit.")


class McpServerUpdateIn(Schema):
    name: str | None = None
    transport: TransportIn | None = None
    url: str | None = None
    command: str | None = None
    headers: dict[str, str] | None = Field(
        default=None, description="Replaces the set; a value of *** keeps that header's value."
    )
    bearer_token: str | None = Field(
        default=None, description="Left out: kept. Empty string: removed."
    )
    timeout_seconds: int | None = None


class McpErrorOut(Schema):
    code: str
    message: str


class McpServerInfoOut(Schema):
    name: str
    version: str


class McpToolOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    input_schema: dict[str, Any]
    enabled: bool
    function_name: str = Field(description="The name a model calls it by: <server>__<tool>.")


class McpServerOut(Schema):
    id: uuid.UUID
    name: str
    transport: str
    url: str | None
    command: str | None
    headers: dict[str, str] = Field(description="Header names, each value shown as ***.")
    has_bearer_token: bool
    timeout_seconds: int
    tools: list[McpToolOut]
    tools_refreshed_at: datetime | None
    last_error: McpErrorOut | None
    server_info: McpServerInfoOut | None
    created_at: datetime
    updated_at: datetime


class McpConnectionTestOut(Schema):
    ok: bool
    server_name: str | None
    server_version: str | None
    tool_count: int | None
    duration_ms: int
    error: McpErrorOut | None


class McpToolSwitchIn(Schema):
    enabled: bool


class McpStdioCommandOut(Schema):
    name: str
    description: str


class McpInvokeIn(Schema):
    arguments: dict[str, Any] = Field(default_factory=dict)


class McpInvokeOut(Schema):
    tool: str
    is_error: bool
    content: str = Field(description="What a model reads.")
    data: Any = Field(default=None, description="The tool's structured content, if any.")
    duration_ms: int
