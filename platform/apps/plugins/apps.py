from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class PluginsConfig(AppConfig):
    name = "apps.plugins"
    # The database keeps the first release's label (tables registry_*, its migration history).
    label = "registry"
    verbose_name = "Plugins"

    def ready(self) -> None:
        from apps.plugins.models import Plugin
        from kernel.config_cache import invalidate_on_change

        invalidate_on_change(Plugin)  # the gateway caches which providers are loaded
        # In strict mode (CI) a plugin that fails to load stops every process at start-up;
        # otherwise discovery stays lazy and failures are only recorded.
        if settings.PLUGINS_STRICT:
            from apps.plugins.discovery import discover, failures

            if problems := failures(discover()):
                raise ImproperlyConfigured(
                    "MINISTUDIO_PLUGINS_STRICT is on and plugins failed to load: "
                    + "; ".join(f"{p.kind}/{p.plugin_id}: {p.error}" for p in problems)
                )
