"""The console API's shapes for the MCP server switch."""

from ninja import Field, Schema


class McpServingOut(Schema):
    enabled: bool = Field(description="Whether the workspace's API keys may use /mcp.")
    path: str = Field(description="Where the MCP server answers (streamable HTTP).")


class McpServingIn(Schema):
    enabled: bool
