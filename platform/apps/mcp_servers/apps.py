from django.apps import AppConfig


class McpServersConfig(AppConfig):
    name = "apps.mcp_servers"
    label = "mcp_servers"
    verbose_name = "MCP servers (tools for apps)"
