from django.apps import AppConfig


class ApplicationsConfig(AppConfig):
    name = "apps.applications"
    # The database keeps the first release's label (tables agents_*, its migration history),
    # so an existing install upgrades without renaming tables.
    label = "agents"
    verbose_name = "Apps"

    def ready(self) -> None:
        from apps.applications.models import AgentApp, AppVersion
        from apps.knowledge.models import KnowledgeBase
        from kernel.config_cache import invalidate_on_change

        # The app API caches the published app, its version and its knowledge bases per
        # process (selectors.published_app). Knowledge bases are registered here, by their
        # reader; their BM25 statistics change by update(), unsignalled, and are not cached.
        invalidate_on_change(AgentApp, AppVersion, KnowledgeBase)
