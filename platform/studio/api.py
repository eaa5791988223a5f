"""The console / management API root (``/console/api/``) and its error handling.

Routers live in their apps; this module only assembles them and renders every failure
in the one error shape of ``kernel.errors``.
"""

from ninja import NinjaAPI

from apps.accounts.api import router as accounts_router
from apps.accounts.auth import console_auth
from apps.applications.api import router as agents_router
from apps.batch.api import router as batch_router
from apps.gateway.console_api import router as model_chat_router
from apps.gateway.model_groups_api import router as model_groups_router
from apps.http_tools.api import router as http_tools_router
from apps.knowledge.api import router as knowledge_router
from apps.mcp_servers.api import router as mcp_servers_router
from apps.mcp_serving.api import router as mcp_serving_router
from apps.model_endpoints.api import router as endpoints_router
from apps.plugins.api import router as registry_router
from apps.usage.api import router as usage_router
from kernel.edge import EdgeParser
from kernel.errors import install_error_handlers
from studio.health import router as health_router

console_api = NinjaAPI(
    parser=EdgeParser(),
    title="ministudio console API",
    version="1",
    description=(
        "Management API of ministudio: sessions, workspaces, members, API keys, plugins, "
        "model endpoints, usage and quotas, knowledge bases."
    ),
    urls_namespace="console",
    auth=console_auth,
)
install_error_handlers(console_api)
console_api.add_router("/", health_router)
console_api.add_router("/", accounts_router)
console_api.add_router("/", registry_router)
console_api.add_router("/", endpoints_router)
console_api.add_router("/", model_chat_router)
console_api.add_router("/", model_groups_router)
console_api.add_router("/", usage_router)
console_api.add_router("/", knowledge_router)
console_api.add_router("/", agents_router)
console_api.add_router("/", http_tools_router)
console_api.add_router("/", mcp_servers_router)
console_api.add_router("/", batch_router)
console_api.add_router("/", mcp_serving_router)
