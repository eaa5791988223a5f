from django.apps import AppConfig


class EndpointsConfig(AppConfig):
    name = "apps.endpoints"
    label = "endpoints"
    verbose_name = "Model endpoints"

    def ready(self) -> None:
        from apps.endpoints.models import EndpointGrant, ModelEndpoint
        from kernel.config_cache import invalidate_on_change

        # The gateway caches these per process (kernel.config_cache).
        invalidate_on_change(ModelEndpoint, EndpointGrant)
