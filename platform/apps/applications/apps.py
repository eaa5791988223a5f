from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "apps.applications"
    # The database keeps the first release's label (tables agents_*, its migration history),
    # so an existing install upgrades without renaming tables.
    label = "agents"
    verbose_name = "Apps"

    def ready(self) -> None:
        from apps.applications.openai_app import APP_MODEL_PREFIX, chat_with_app
        from apps.gateway.openai_compat import answer_model_prefix

        answer_model_prefix(APP_MODEL_PREFIX, chat_with_app)
