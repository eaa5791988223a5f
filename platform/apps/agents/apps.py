from django.apps import AppConfig


class AgentsConfig(AppConfig):
    name = "apps.agents"
    label = "agents"
    verbose_name = "Agent apps"

    def ready(self) -> None:
        from apps.agents.openai_app import APP_MODEL_PREFIX, chat_with_app
        from apps.gateway.openai_compat import answer_model_prefix

        answer_model_prefix(APP_MODEL_PREFIX, chat_with_app)
