from django.apps import AppConfig


class ModelEndpointsConfig(AppConfig):
    name = "apps.model_endpoints"
    # The database keeps the first release's label (tables endpoints_*, its migration history).
    label = "endpoints"
    verbose_name = "Model endpoints"

    def ready(self) -> None:
        from apps.model_endpoints.models import (
            EndpointGrant,
            ModelEndpoint,
            ModelGroup,
            ModelGroupGrant,
            ModelGroupMember,
        )
        from kernel.config_cache import invalidate_on_change

        # The gateway caches these per process (kernel.config_cache).
        invalidate_on_change(
            ModelEndpoint, EndpointGrant, ModelGroup, ModelGroupMember, ModelGroupGrant
        )
