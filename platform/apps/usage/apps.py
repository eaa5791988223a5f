from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "apps.usage"
    label = "usage"
    verbose_name = "Usage and quotas"

    def ready(self) -> None:
        from apps.usage.models import Quota
        from kernel.config_cache import invalidate_on_change

        # The gateway caches these per process (kernel.config_cache).
        invalidate_on_change(Quota)
