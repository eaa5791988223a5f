from django.apps import AppConfig


class McpServingConfig(AppConfig):
    name = "apps.mcp_serving"
    label = "mcp_serving"
    verbose_name = "ministudio as an MCP server (/mcp)"
