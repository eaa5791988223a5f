from django.contrib import admin
from django.urls import path, re_path

from apps.applications.app_api import router as app_completion_router
from apps.applications.openai_app import APP_MODEL_PREFIX, chat_with_app
from apps.batch.openai_api import router as openai_batch_router
from apps.gateway.dashscope_compat import dashscope_api
from apps.gateway.openai_compat import answer_model_prefix, openai_api
from studio.api import console_api
from studio.views import console

# The DashScope surface serves models (gateway) and published apps (agents).
dashscope_api.add_router("/", app_completion_router)
# The OpenAI surface serves models (gateway), files and batches (batch), and published apps
# as the chat model "app:<app_id>" (agents).
openai_api.add_router("/", openai_batch_router)
answer_model_prefix(APP_MODEL_PREFIX, chat_with_app)

_NOT_CONSOLE = "console/api|compatible-mode|api|admin|static|assets|mcp"

urlpatterns = [
    path("console/api/", console_api.urls),
    path("compatible-mode/v1/", openai_api.urls),
    path("api/v1/", dashscope_api.urls),
    path("admin/", admin.site.urls),
    # The web console's client-side routes: every other path, except under the prefixes
    # above, static files and the console's own assets (which answer their own 404s).
    path("", console, name="home"),
    re_path(rf"^(?!(?:{_NOT_CONSOLE})(?:/|$))(?P<path>.+)$", console),
]

handler404 = "studio.views.not_found"
handler500 = "studio.views.server_error"
