from django.apps import AppConfig


class EndpointsConfig(AppConfig):
    name = "apps.endpoints"
    label = "endpoints"
    verbose_name = "Model endpoints"

    def ready(self) -> None:
        from apps.endpoints.models import EndpointGrant, ModelEndpoint
        from studio.config_cache import invalidate_on_change

        # The gateway caches these per process (studio.config_cache).
        invalidate_on_change(ModelEndpoint, EndpointGrant)
